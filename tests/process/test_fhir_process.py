"""`monitor import FILE.json` through the installed entry point, as a clinic runs it."""

from __future__ import annotations

import shutil
import subprocess

from tests.conftest import REPO
from tests.process.commands import MONITOR, user_env


def test_import_fhir_bundle_then_show(tmp_path):
    """A FHIR Bundle imports in its own process and the patient's scans show up."""
    shutil.copy(REPO / "tests" / "fixtures" / "fhir" / "clinic-bundle.json", tmp_path / "x.json")
    (tmp_path / "clinic.toml").write_text('[fhir]\nmrn_system = "urn:clinic:mrn"\n')

    def monitor(*args):
        return subprocess.run([str(MONITOR), "--config", "clinic.toml", *args], cwd=tmp_path, capture_output=True,
                              text=True, env=user_env(), timeout=120)
    assert monitor("init").returncode == 0
    done = monitor("import", "x.json")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stdout + done.stderr
    assert "scans.fhir: imported 3 row(s): 3 new" in done.stdout
    assert "1 Practitioner (not recorded here)" in done.stdout
    shown = monitor("show", "F-007", "--as-of", "2026-11-26")
    assert shown.returncode == 0 and "0.702" in shown.stdout, shown.stdout + shown.stderr
    bad = monitor("import", "missing.json")
    assert bad.returncode == 1 and bad.stderr.startswith("Error: ") and "Traceback" not in bad.stderr
