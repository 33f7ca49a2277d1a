"""`monitor daemon` stops cleanly on SIGTERM whenever it comes, as systemd sends it."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from tests.process.commands import DAEMON_READY, MONITOR, user_env
from tests.process.conftest import demo_workspace

ATTEMPTS = 5
STOP_WITHIN_S = 20


def test_daemon_exits_on_sigterm_right_after_it_starts(pristine_demo_workspace, tmp_path):
    """systemd stops a service whenever it likes (a restart right after a start); a daemon that
    hangs is killed after the stop timeout, possibly mid-write of the nightly reminders."""
    folder = demo_workspace(pristine_demo_workspace, tmp_path / "workspace")
    log = folder / "daemon.log"
    for attempt in range(1, ATTEMPTS + 1):
        with open(log, "w", encoding="utf-8") as err:
            proc = subprocess.Popen([str(MONITOR), "daemon"], cwd=folder, stdout=subprocess.DEVNULL, stderr=err,
                                    env=user_env())
            try:
                started = time.monotonic()
                while DAEMON_READY not in log.read_text(encoding="utf-8") and proc.poll() is None:
                    assert time.monotonic() - started < 60, "the daemon never logged that it started"
                    time.sleep(0.005)
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=STOP_WITHIN_S)
                except subprocess.TimeoutExpired:
                    pytest.fail(f"attempt {attempt}: still running {STOP_WITHIN_S} s after SIGTERM:\n"
                                f"{log.read_text(encoding='utf-8')}")
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        text = log.read_text(encoding="utf-8")
        assert proc.returncode == 0 and "Traceback" not in text, f"attempt {attempt}: exit {proc.returncode}\n{text}"
        assert "daemon stopped" in text
