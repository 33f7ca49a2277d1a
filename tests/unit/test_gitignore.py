"""The .gitignore keeps patient data out of the repository, and never the project's own code."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(),
                                reason="not a git checkout")


def ignored(path: str) -> bool:
    return subprocess.run(["git", "check-ignore", "-q", "--no-index", path], cwd=ROOT).returncode == 0


def test_a_new_file_in_any_package_folder_would_be_committed():
    """An ignore rule like `reports/` once hid monitor/reports/letters.py from a commit."""
    folders = [p for p in (ROOT / "monitor").rglob("*") if p.is_dir() and "__pycache__" not in p.parts]
    folders += [p for p in (ROOT / "tests").rglob("*") if p.is_dir() and "__pycache__" not in p.parts]
    hidden = [str(f.relative_to(ROOT)) for f in folders
              if ignored(str((f / "new_module.py").relative_to(ROOT)))
              or ignored(str((f / "template.txt").relative_to(ROOT)))]
    assert hidden == []


@pytest.mark.parametrize("output", ["monitor.db", "monitor.db-wal", "demo-output/monitor.db", "outbox/digest.txt",
                                    "overdue.csv", "overdue.xlsx", "due.ics", "letters.pdf", "reports/p.png",
                                    "scans.rejects.csv", ".overdue.csv.part"])
def test_every_default_output_is_ignored(output):
    """What the quick tour and the demo write holds patient data: one `git add .` must not take it."""
    assert ignored(output)
