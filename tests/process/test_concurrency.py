"""A daemon and many staff commands on one SQLite file, as on a busy clinic morning.

Every command either succeeds or says the database is busy (exit 1); none prints a traceback;
nothing a successful command wrote is lost. CI runs a scaled-down crowd; set
MONITOR_CROWD=50 to run the full one."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import DEMO

MONITOR = str(Path(sys.executable).with_name("monitor"))
CROWD = int(os.environ.get("MONITOR_CROWD", "12"))
AS_OF = "2026-06-01"


def _commands(n: int) -> list[list[str]]:
    """A mix of what staff do: lists, exports, flags, imports of new patients, nightly reruns."""
    kinds = [
        lambda i: ["due", "--status", "overdue", "--as-of", AS_OF],
        lambda i: ["export", "overdue", "-o", f"overdue-{i}.csv", "--as-of", AS_OF],
        lambda i: ["import", f"new-{i}/patients.csv"],
        lambda i: ["flags", "--severity", "urgent", "--as-of", AS_OF],
        lambda i: ["run", "nightly", "--as-of", AS_OF, "--again"],
        lambda i: ["show", "TOH-000001", "--as-of", AS_OF],
    ]
    return [kinds[i % len(kinds)](i) for i in range(n)]


@pytest.mark.slow
def test_a_daemon_and_a_crowd_of_commands(tmp_path):
    """Under load every command works or says 'busy'; imports and exports that said ok are all there."""
    assert subprocess.run([MONITOR, "init"], cwd=tmp_path, capture_output=True).returncode == 0
    done = subprocess.run([MONITOR, "import", *map(str, sorted(DEMO.glob("*.csv")))], cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    commands = _commands(CROWD)
    for i, cmd in enumerate(commands):
        if cmd[0] == "import":
            (tmp_path / f"new-{i}").mkdir()
            (tmp_path / f"new-{i}" / "patients.csv").write_text(f"mrn,sex,birth_date\nCROWD-{i},F,1980-01-01\n")
    daemon = subprocess.Popen([MONITOR, "daemon"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    try:
        procs = [(cmd, subprocess.Popen([MONITOR, *cmd], cwd=tmp_path, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)) for cmd in commands]
        results = [(cmd, *p.communicate(timeout=600), p.returncode) for cmd, p in procs]
    finally:
        daemon.terminate()
        daemon_out = daemon.communicate(timeout=120)[0]
    assert "Traceback" not in daemon_out, daemon_out
    ok = []
    for cmd, out, err, code in results:
        assert "Traceback" not in err, (cmd, err)
        assert code == 0 or (code == 1 and "the database is busy" in err), (cmd, code, err)
        if code == 0:
            ok.append(cmd)
    time.sleep(0.1)
    with sqlite3.connect(tmp_path / "monitor.db") as conn:
        mrns = {r[0] for r in conn.execute("SELECT mrn FROM patient WHERE mrn LIKE 'CROWD-%'")}
        exports = conn.execute("SELECT count(*) FROM audit_event WHERE action = 'export_overdue'").fetchone()[0]
        completions = conn.execute("SELECT count(*) FROM job_completion WHERE job = 'nightly'").fetchone()[0]
    imported = {f"CROWD-{c[1].split('/')[0][4:]}" for c in ok if c[0] == "import"}
    assert imported <= mrns
    exported = [c for c in ok if c[0] == "export"]
    assert exports == len(exported)
    assert all((tmp_path / c[3]).exists() for c in exported)
    assert completions >= 1
    assert len(ok) >= len(commands) // 2, f"only {len(ok)} of {len(commands)} commands succeeded"
    leftovers = [p.name for p in tmp_path.rglob("*.part")]
    assert not leftovers
