"""The daemon and the nightly run as real processes: one per database, clean stop, crash safety."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import date

import pytest
from click.testing import CliRunner
from freezegun import freeze_time
from sqlalchemy import text

from monitor.cli.main import main
from monitor.config import STAFF_RISK_FACTORS
from monitor.services.importing import import_files
from monitor.store import make_engine
from monitor.demo.synth import generate, write_cohort
from tests.conftest import DEMO, REPO


def monitor_proc(db_url, *args, config=None, cwd=None):
    cmd = [sys.executable, "-m", "monitor", "--db", db_url]
    if config:
        cmd += ["--config", str(config)]
    return subprocess.Popen(cmd + list(args), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})


def table_counts(db_url):
    engine = make_engine(db_url)
    with engine.connect() as conn:
        out = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()
               for t in ("reminder", "reminder_event", "job_run", "job_completion", "audit_event")}
    engine.dispose()
    return out


def wait_for(predicate, timeout=60.0, every=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(every)
    return False


@pytest.fixture
def demo_db(db_url, tmp_path):
    files = sorted(DEMO.glob("*.csv"))
    import_files(make_engine(db_url), files, today=date(2026, 11, 25), actor="t", risk_codes=STAFF_RISK_FACTORS)
    config = tmp_path / "clinic.toml"
    config.write_text(f'[jobs]\noutbox = "{tmp_path / "outbox"}"\n', encoding="utf-8")
    return db_url, config


def test_daemon_catches_up_refuses_a_second_and_stops_on_sigterm(demo_db, tmp_path):
    """Start-up serves the missed run; a second daemon refuses; SIGTERM stops within seconds, exit 0."""
    db_url, config = demo_db
    first = monitor_proc(db_url, "daemon", config=config, cwd=tmp_path)
    try:
        assert wait_for(lambda: table_counts(db_url)["job_completion"] >= 2), "no catch-up run at start-up"
        second = monitor_proc(db_url, "daemon", config=config, cwd=tmp_path)
        out, err = second.communicate(timeout=60)
        assert second.returncode == 3
        assert "Error: another daemon is already running on this database" in err
        started = time.monotonic()
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=30)
        assert first.returncode == 0 and time.monotonic() - started < 10
    finally:
        if first.poll() is None:
            first.kill()
    _, log = first.communicate()
    assert "daemon started" in log and "nightly for" in log and "daemon stopped" in log
    assert "Pat" not in log  # no names in logs
    runs = table_counts(db_url)
    assert runs["job_completion"] == 2  # nightly and the weekly report slot, once each
    # After the stop the lock is free again: a new daemon could start (checked via `monitor jobs`).
    result = CliRunner().invoke(main, ["--db", db_url, "--config", str(config), "jobs"])
    assert result.output.startswith("Daemon: not running")


@pytest.fixture
def large_sqlite(tmp_path):
    """A cohort large enough to catch the nightly run mid-write."""
    folder = tmp_path / "cohort"
    folder.mkdir()
    write_cohort(generate(8000, seed=5, end_on=date(2026, 11, 20)), folder)
    url = f"sqlite:///{tmp_path / 'big.db'}"
    from monitor.store import init_db

    engine = make_engine(url)
    init_db(engine)
    import_files(engine, sorted(folder.glob("*.csv")), today=date(2026, 11, 25), actor="t",
                 risk_codes=STAFF_RISK_FACTORS)
    engine.dispose()
    config = tmp_path / "clinic.toml"
    config.write_text(f'[jobs]\noutbox = "{tmp_path / "outbox"}"\n', encoding="utf-8")
    return url, tmp_path / "big.db", config


def test_kill_minus_9_mid_run_leaves_the_database_as_before(large_sqlite, tmp_path):
    """A run killed while writing reminders leaves nothing behind; the rerun completes."""
    url, path, config = large_sqlite
    before = table_counts(url)
    proc = monitor_proc(url, "run", "nightly", "--as-of", "2026-11-20", config=config, cwd=tmp_path)
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    caught = False
    try:
        while proc.poll() is None:
            try:
                probe.execute("BEGIN IMMEDIATE")
                probe.execute("ROLLBACK")
            except sqlite3.OperationalError:  # the run holds the write lock: it is mid-write
                os.kill(proc.pid, signal.SIGKILL)
                caught = True
                break
            time.sleep(0.002)
    finally:
        probe.close()
    proc.wait(timeout=30)
    assert caught, "the run finished before it could be caught mid-write; use a larger cohort"
    assert proc.returncode == -signal.SIGKILL
    assert table_counts(url) == before
    assert not list((tmp_path / "outbox").glob("worklist-*.csv")) if (tmp_path / "outbox").exists() else True
    rerun = monitor_proc(url, "run", "nightly", "--as-of", "2026-11-20", config=config, cwd=tmp_path)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert out.startswith("nightly for 2026-11-20: ok")
    after = table_counts(url)
    assert after["job_completion"] == 1 and after["reminder"] > 100


def test_run_nightly_uses_the_clinic_date(demo_db, tmp_path):
    """Without --as-of, 'today' is the clinic's local date (Auckland is already tomorrow)."""
    db_url, _ = demo_db
    cfg = tmp_path / "nz.toml"
    cfg.write_text(f'timezone = "Pacific/Auckland"\n[jobs]\noutbox = "{tmp_path / "outbox"}"\n', encoding="utf-8")
    with freeze_time("2026-11-24 20:00:00"):  # 09:00 on the 25th in Auckland
        result = CliRunner().invoke(main, ["--db", db_url, "--config", str(cfg), "run", "nightly"],
                                    catch_exceptions=False)
    assert result.output.startswith("nightly for 2026-11-25: ok"), result.output
