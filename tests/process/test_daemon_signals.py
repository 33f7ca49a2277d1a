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


def test_daemon_logs_to_its_log_file_in_clinic_time_and_removes_its_lock(pristine_demo_workspace, tmp_path):
    """An admin reads the log file, not a terminal; a stale lock file after a clean stop looks like
    a crashed daemon. The log is owner-only (it names MRNs) and appended across restarts."""
    import re
    import stat

    folder = demo_workspace(pristine_demo_workspace, tmp_path / "workspace")
    (folder / "clinic.toml").write_text('timezone = "Europe/Berlin"\n', encoding="utf-8")
    log = folder / "daemon.log"
    lock = folder / "monitor.db.daemon.lock"
    for run in (1, 2):
        proc = subprocess.Popen([str(MONITOR), "--config", "clinic.toml", "daemon", "--log-file", "daemon.log"],
                                cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                env=user_env())
        try:
            started = time.monotonic()
            while (not log.exists() or log.read_text(encoding="utf-8").count(DAEMON_READY) < run) \
                    and proc.poll() is None:
                assert time.monotonic() - started < 60, "the daemon never logged that it started"
                time.sleep(0.05)
            assert lock.exists()
            # a second daemon is refused and leaves the running one's lock alone
            second = subprocess.run([str(MONITOR), "daemon"], cwd=folder, capture_output=True, text=True,
                                    env=user_env(), timeout=60)
            assert second.returncode == 3 and lock.exists(), second.stderr
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=STOP_WITHIN_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0 and "Traceback" not in err, err
        assert not lock.exists(), "the lock file stayed after a clean stop"
    text = log.read_text(encoding="utf-8")
    assert text.count("daemon stopped") == 2  # appended, not replaced
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert re.match(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \+0[12]:00 INFO daemon started", text), text[:200]
    assert "Scheduler started" not in text and "Added job" not in text  # APScheduler's INFO chatter
