"""`monitor show` and the evaluation commands start without what they do not need (issue 16: start-up)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.process.conftest import demo_workspace

# SQLModel and the model classes cost ~0.4 s of CPU at start; the others are for other commands.
NOT_NEEDED = ["sqlmodel", "monitor.store.tables", "alembic", "matplotlib", "jinja2", "fhir", "openpyxl",
              "apscheduler", "fastapi"]

PROBE = """
import json, runpy, sys
sys.argv = ["monitor", *sys.argv[1:]]
try:
    runpy.run_module("monitor", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code
else:
    code = 0
sys.stdout.flush()
sys.stderr.write("\\nLOADED " + json.dumps(sorted(m for m in sys.modules)) + " EXIT " + str(code) + "\\n")
"""


def _loaded(cwd, *args: str) -> tuple[str, set[str]]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    tail = done.stderr.rsplit("\nLOADED ", 1)[1]
    modules, code = tail.rsplit(" EXIT ", 1)
    assert code.strip() == "0", done.stderr[-3000:]
    return done.stdout, set(json.loads(modules))


@pytest.mark.parametrize("args", [("show", "TOH-000002"), ("due", "--format", "csv"), ("flags", "--format", "json"),
                                  ("flags", "review"), ("reminders",), ("run", "nightly", "--again")],
                         ids=lambda a: " ".join(a[:2]))
def test_reading_commands_do_not_load_what_they_do_not_use(pristine_demo_workspace, tmp_path, args):
    """A one-patient look-up must not pay for the ORM models, migrations, charts or the web at start."""
    folder = demo_workspace(pristine_demo_workspace, tmp_path / "workspace")
    out, loaded = _loaded(folder, *args, "--as-of", "2026-11-20")
    assert out.strip(), "the command printed nothing"
    found = [name for name in NOT_NEEDED if name in loaded]
    assert found == [], f"{args[0]} loaded {found}"


def test_show_of_a_patient_with_a_retraction_still_lists_it(pristine_demo_workspace, tmp_path):
    """The cheap 'any retraction?' check never hides one: a retracted record is still shown."""
    folder = demo_workspace(pristine_demo_workspace, tmp_path / "workspace")
    monitor = [sys.executable, "-m", "monitor"]
    done = subprocess.run([*monitor, "records", "retract", "episodes", "TOH-000002", "hip", "right", "2023-04-25",
                           "--reason", "onset typed wrong"], cwd=folder, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    shown = subprocess.run([*monitor, "show", "TOH-000002", "--as-of", "2026-11-20"], cwd=folder,
                           capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0, shown.stderr
    assert "Retracted records (1), kept but ignored by every rule:" in shown.stdout
    assert "episodes hip right 2023-04-25" in shown.stdout
