"""`monitor patient …` as staff run it: each command its own process through the installed entry point."""

from __future__ import annotations

import subprocess

from tests.e2e.test_cli_patient_status import PATIENTS
from tests.process.commands import MONITOR, user_env


def test_discharge_and_reactivate_as_separate_processes(tmp_path):
    """The entry point as staff run it: each command its own process, the change read back by the next."""
    (tmp_path / "patients.csv").write_text(PATIENTS, encoding="utf-8")

    def run(*args):
        return subprocess.run([str(MONITOR), *args], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                              env=user_env())

    assert run("init").returncode == 0
    assert run("import", "patients.csv").returncode == 0
    done = run("patient", "discharge", "A1", "--reason", "surveillance complete")
    assert (done.returncode, done.stdout, done.stderr) == (0, "A1 (Ann Example): discharged (was active).\n", "")
    back = run("patient", "reactivate", "A1", "--reason", "discharged by mistake")
    assert (back.returncode, back.stdout, back.stderr) == (0, "A1 (Ann Example): active (was discharged).\n", "")
    again = run("patient", "reactivate", "A1", "--reason", "twice")
    assert again.returncode == 1 and again.stderr == "Error: A1 is active already; nothing was changed\n"
    assert "Traceback" not in again.stderr
    shown = run("show", "A1")
    assert "active -> discharged" in shown.stdout and "discharged -> active" in shown.stdout
