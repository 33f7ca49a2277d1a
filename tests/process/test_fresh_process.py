"""Each command in its own process, through the installed entry point, as a clinic runs them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import DEMO

MONITOR = str(Path(sys.executable).with_name("monitor"))


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([MONITOR, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_import_in_a_fresh_process_after_init(tmp_path):
    """The quick tour's second command: import in a process that never imported the table models."""
    for name in ("patients.csv", "episodes.csv", "scans.csv"):
        shutil.copy(DEMO / name, tmp_path / name)
    assert run(tmp_path, "init").returncode == 0
    done = run(tmp_path, "import", "patients.csv", "episodes.csv", "scans.csv")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "patients.csv: imported" in done.stdout
