"""What a clinic gets wrong, run as the clinic runs it: one `monitor` process per command.

Each case must end in `Error: ...` with a documented exit code, no traceback, no patient value
on stderr, and nothing changed that the user did not ask to change."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import DEMO

MONITOR = str(Path(sys.executable).with_name("monitor"))
AS_OF = "2026-06-01"


def run(cwd: Path, *args: str, env: dict | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([MONITOR, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def user_error(done: subprocess.CompletedProcess, code: int = 1) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert done.stderr.startswith("Error: "), done.stderr
    return done.stderr


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("pristine")
    assert run(folder, "init").returncode == 0
    done = run(folder, "import", *[str(p) for p in sorted(DEMO.glob("*.csv"))])
    assert done.returncode == 0, done.stderr
    return folder / "monitor.db"


@pytest.fixture
def clinic(pristine, tmp_path) -> Path:
    """A fresh folder holding a copy of the demo database as `monitor.db`."""
    shutil.copy(pristine, tmp_path / "monitor.db")
    return tmp_path


def counts(db: Path) -> dict:
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}


def audit(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT actor, action, subject, rows, detail FROM audit_event ORDER BY id").fetchall()


@pytest.mark.parametrize("target", ["monitor.db", "monitor.db-wal", "link.csv", "./sub/../monitor.db"])
def test_an_export_onto_the_database_is_refused(clinic, target):
    """`export overdue -o monitor.db` once overwrote the database with a CSV and said it had worked."""
    (clinic / "sub").mkdir()
    (clinic / "link.csv").symlink_to(clinic / "monitor.db")
    before = (clinic / "monitor.db").read_bytes()
    err = user_error(run(clinic, "export", "overdue", "-o", target, "--as-of", AS_OF))
    assert "is the database" in err
    assert (clinic / "monitor.db").read_bytes() == before


@pytest.mark.parametrize("command", [["report", "clinic"], ["report", "patient", "TOH-000001"]])
def test_a_report_onto_the_database_is_refused(clinic, command):
    """A report's -o naming the database is refused before anything is rendered."""
    before = (clinic / "monitor.db").read_bytes()
    err = user_error(run(clinic, *command, "-o", "monitor.db", "--as-of", AS_OF))
    assert "is the database" in err
    assert (clinic / "monitor.db").read_bytes() == before


def test_reports_into_an_existing_shared_folder_keep_its_mode(clinic):
    """`report patients -o DIR` once chmodded a shared 1777 folder to 0700."""
    shared = clinic / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    done = run(clinic, "report", "patients", "TOH-000001", "--format", "png", "-o", "shared", "--as-of", AS_OF)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    files = list(shared.iterdir())
    assert len(files) == 1 and stat.S_IMODE(files[0].stat().st_mode) == 0o600


def test_a_new_report_folder_is_owner_only(clinic):
    """A folder we create for patient files is readable by its owner only."""
    done = run(clinic, "report", "patients", "TOH-000001", "--format", "png", "-o", "new/charts", "--as-of", AS_OF)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE((clinic / "new" / "charts").stat().st_mode) == 0o700


def test_a_file_that_is_not_a_database(tmp_path):
    """Pointing --db at a spreadsheet says so instead of a traceback."""
    (tmp_path / "patients.db").write_text("mrn,name\nP1,Secret Name\n")
    err = user_error(run(tmp_path, "--db", "patients.db", "due"))
    assert "not a toh-monitor database" in err and "Secret" not in err


def new_patient(folder: Path) -> str:
    (folder / "patients.csv").write_text("mrn,name,sex,birth_date\nNEW-1,Secret Name,F,1980-01-01\n")
    return "patients.csv"


def test_a_read_only_database(clinic):
    """A database opened read-only (a copy, a mounted backup) refuses writes with what to check."""
    url = f"sqlite:///file:{clinic / 'monitor.db'}?mode=ro&uri=true"
    err = user_error(run(clinic, "--db", url, "import", new_patient(clinic)))
    assert "read-only" in err and "Secret" not in err


def test_a_busy_database_says_who_holds_it(clinic):
    """A command waiting on another writer gives up after the configured time, naming the holder."""
    (clinic / "clinic.toml").write_text("[database]\nbusy_timeout_seconds = 1\n")
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys, time\n"
        f"c = sqlite3.connect({str(clinic / 'monitor.db')!r}, isolation_level=None)\n"
        "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(30)\n")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        err = user_error(run(clinic, "--config", "clinic.toml", "import", new_patient(clinic)))
        assert time.monotonic() - started < 20
        assert "busy" in err and f"pid {holder.pid}" in err and "Secret" not in err
    finally:
        holder.kill()
        holder.wait()


def test_a_missing_output_folder(clinic):
    """An export into a folder that does not exist is an error, and writes nothing anywhere."""
    err = user_error(run(clinic, "export", "overdue", "-o", "nope/overdue.csv", "--as-of", AS_OF))
    assert "folder does not exist" in err


def test_views_and_exports_are_audited(clinic):
    """Who saw which patient data, when: lists, JSON, a patient, reminders, reports, exports."""
    steps = [
        ["due", "--format", "csv", "--as-of", AS_OF],
        ["--by", "Dr Who", "flags", "--format", "json", "--as-of", AS_OF],
        ["show", "TOH-000001", "--as-of", AS_OF],
        ["report", "patient", "TOH-000001", "--format", "png", "-o", "p.png", "--as-of", AS_OF],
        ["report", "clinic", "-o", "c.pdf", "--as-of", AS_OF],
        ["export", "overdue", "-o", "o.csv", "--as-of", AS_OF],
        ["reminders", "--format", "csv"],
    ]
    for step in steps:
        done = run(clinic, *step)
        assert done.returncode == 0, (step, done.stderr)
    events = audit(clinic / "monitor.db")
    actions = [e[1] for e in events if e[1] != "import"]
    assert actions == ["view_due", "view_flags", "view_patient", "report_patient", "report_clinic",
                       "export_overdue", "view_reminders"]
    flags_event = next(e for e in events if e[1] == "view_flags")
    assert json.loads(flags_event[4])["on_behalf_of"] == "Dr Who"
    assert next(e for e in events if e[1] == "view_patient")[2] == "patient TOH-000001"
    assert next(e for e in events if e[1] == "report_patient")[2] == str((clinic / "p.png").resolve())


def test_a_nightly_run_for_a_future_day_is_refused(clinic):
    """Reminders written for a day that has not come would close and open the wrong items."""
    before = counts(clinic / "monitor.db")
    err = user_error(run(clinic, "run", "nightly", "--as-of", "2999-01-01"))
    assert "in the future" in err and "--dry-run" in err
    done = run(clinic, "run", "nightly", "--as-of", "2999-01-01", "--dry-run")
    assert done.returncode == 0 and "dry run, nothing written" in done.stdout, done.stderr
    assert counts(clinic / "monitor.db") == before


def test_one_daemon_even_through_a_symlink(clinic):
    """A second daemon reached the database through a symlink and both sent reminders."""
    (clinic / "alias.db").symlink_to(clinic / "monitor.db")
    first = subprocess.Popen([MONITOR, "daemon"], cwd=clinic, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
    try:
        deadline = time.monotonic() + 60
        while not Path(f"{clinic / 'monitor.db'}.daemon.lock").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        second = run(clinic, "--db", "alias.db", "daemon", timeout=60)
        assert second.returncode == 3, second.stderr
        assert "another daemon is already running" in second.stderr and "Traceback" not in second.stderr
    finally:
        first.terminate()
        first.wait(timeout=60)


@pytest.mark.slow
def test_a_killed_export_never_leaves_an_unrecorded_file(clinic):
    """Killed at any moment, an export leaves no file, or a whole file with its audit record
    (4 of 14 kills once left a complete, unrecorded file of patient names)."""
    for i, delay in enumerate((0.4, 0.8, 1.2, 1.6, 2.0, 2.4, 2.8, 3.2)):
        target = clinic / f"overdue-{i}.csv"
        proc = subprocess.Popen([MONITOR, "export", "overdue", "-o", target.name, "--as-of", AS_OF], cwd=clinic,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.kill()
        proc.wait()
        recorded = [e for e in audit(clinic / "monitor.db") if e[1] == "export_overdue" and e[2] == str(target)]
        if target.exists():
            assert recorded, f"kill after {delay} s left an unrecorded file"
            assert target.read_text(encoding="utf-8-sig").startswith("mrn,name,status")


@pytest.mark.parametrize("command", [("due",), ("flags",), ("reminders", "--all")])
def test_a_list_piped_into_head_ends_quietly(clinic, command):
    """`monitor due | head` is how people glance at a list: no `Error: Broken pipe`, no traceback."""
    done = subprocess.run(f"{MONITOR} {' '.join(command)} --as-of {AS_OF} | head -n 1", shell=True, cwd=clinic,
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.count("\n") == 1 and done.stderr == "", done.stderr


def test_a_command_stopped_by_sigterm_leaves_nothing_half_written_and_no_workers(clinic):
    """`kill` (or a scheduler's time limit) mid-batch: exit 143, no staged `.part` file, no report
    published without its audit record, and the worker processes and their server end too."""
    import signal

    folder = clinic / "reports"
    command = subprocess.Popen([MONITOR, "report", "patients", "--all", "-o", str(folder), "--as-of", AS_OF],
                               cwd=clinic, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(folder.glob(".*.part")) and command.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert command.poll() is None, "the batch ended before it could be stopped"
    children = _descendants(command.pid)
    assert children  # the fork server and its workers are drawing
    command.send_signal(signal.SIGTERM)
    out, err = command.communicate(timeout=60)
    assert command.returncode == 143 and "Traceback" not in err, err
    assert list(folder.iterdir()) == []  # neither staged nor published files
    assert "report_patients" not in [a[1] for a in audit(clinic / "monitor.db")]
    deadline = time.monotonic() + 15
    while any(_runs(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_runs(pid) for pid in children)


def _descendants(pid: int) -> list[int]:
    """Every process under `pid` (Linux /proc)."""
    parents = {}
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat_file.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _runs(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
