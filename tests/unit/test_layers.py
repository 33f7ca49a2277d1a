"""The layers are a contract, not a convention: a wrong import fails the suite (STYLE.md "Our shape")."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINT = str(Path(sys.executable).with_name("lint-imports"))


def lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([LINT, "--config", str(root / "pyproject.toml"), "--no-cache"], cwd=root,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(root)}, timeout=120)


def test_the_import_contracts_hold():
    """Rules never touch the database or the screen; reports never query; imports point down."""
    done = lint(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 kept, 0 broken" in done.stdout


def test_the_contract_is_live(tmp_path):
    """A rule module that imports SQL, or a store module that reaches up into services, is caught."""
    shutil.copytree(REPO / "monitor", tmp_path / "monitor", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    rule = tmp_path / "monitor" / "rules" / "schedule.py"
    rule.write_text("import sqlalchemy  # noqa\n" + rule.read_text())
    store = tmp_path / "monitor" / "store" / "engine.py"
    store.write_text("import monitor.services.audit  # noqa\n" + store.read_text())
    done = lint(tmp_path)
    assert done.returncode != 0
    assert "Rules are pure" in done.stdout and "BROKEN" in done.stdout
    assert re.search(r"monitor\.store\.engine -> monitor\.services\.audit", done.stdout)


def test_rules_never_read_the_clock():
    """Clinical rules are pure functions of the history and an explicit as_of: no clock read."""
    clock = re.compile(r"\.now\(|\.today\(|time\.time\(|utcnow\(|Timestamp\(\s*['\"](now|today)")
    found = [f"{p.name}:{i}" for p in (REPO / "monitor" / "rules").glob("*.py")
             for i, line in enumerate(p.read_text().splitlines(), 1) if clock.search(line)]
    assert found == []
