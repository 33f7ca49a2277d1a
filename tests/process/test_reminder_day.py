"""A clerk's day on the reminder list, each command its own process through the installed `monitor`."""

from __future__ import annotations

import csv
import shutil
import subprocess
from datetime import datetime, timedelta, timezone

from tests.conftest import DEMO
from tests.process.commands import MONITOR, user_env


def run(cwd, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([str(MONITOR), *args], cwd=cwd, capture_output=True, text=True, env=user_env(), timeout=300)
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    return done


def test_a_day_of_reminder_work_reads_back_everywhere_and_survives_the_next_night(tmp_path):
    """Nightly -> assign -> --mine -> booked with a date -> defer another -> a clinician acknowledges
    an urgent flag -> export, show and the clinic report show it all -> the next night neither
    reopens nor duplicates what staff recorded."""
    for name in ("patients.csv", "episodes.csv", "scans.csv"):
        shutil.copy(DEMO / name, tmp_path / name)
    today = datetime.now(timezone.utc).date()  # the default clinic zone is UTC
    booked, until = (today + timedelta(days=14)).isoformat(), (today + timedelta(days=90)).isoformat()
    assert run(tmp_path, "init").returncode == 0
    assert run(tmp_path, "import", "patients.csv", "episodes.csv", "scans.csv").returncode == 0
    first = run(tmp_path, "run", "nightly")
    assert first.returncode == 0, first.stderr

    assigned = run(tmp_path, "reminders", "assign", "TOH-000072", "--to", "clerk1")
    assert assigned.returncode == 0, assigned.stderr
    assert assigned.stdout.startswith("TOH-000072 (Carl Larsen), reminder ") and "assigned to clerk1; still open." \
        in assigned.stdout
    mine = run(tmp_path, "reminders", "--mine", "--by", "clerk1", "--format", "csv")
    assert [r["mrn"] for r in csv.DictReader(mine.stdout.splitlines())] == ["TOH-000072"]

    called = run(tmp_path, "reminders", "outreach", "TOH-000072", "--outcome", "booked", "--on", booked)
    assert called.returncode == 0 and f"booked for {booked}; still open." in called.stdout
    deferred = run(tmp_path, "reminders", "defer", "TOH-000230", "--until", until, "--reason", "patient abroad")
    assert deferred.returncode == 0 and deferred.stdout.startswith("TOH-000230 (Ben Horvat), reminder ")

    def exported() -> dict[str, dict]:
        assert run(tmp_path, "export", "overdue", "-o", "x.csv").returncode == 0
        with (tmp_path / "x.csv").open(encoding="utf-8-sig", newline="") as fh:
            return {r["mrn"]: r for r in csv.DictReader(fh)}

    rows = exported()
    assert (rows["TOH-000072"]["reminder_state"], rows["TOH-000072"]["last_outreach_on"],
            rows["TOH-000072"]["assigned_to"]) == ("open", today.isoformat(), "clerk1")
    assert rows["TOH-000230"]["reminder_state"] == "deferred"
    assert rows["TOH-000230"]["reminder_note"] == f"until {until}: patient abroad"

    shown = run(tmp_path, "show", "TOH-000072").stdout
    assert "assigned to clerk1" in shown and f"for {booked}" in shown

    # The clinician's review list: the oldest urgent flag, acknowledged, leaves it.
    review = list(csv.DictReader(run(tmp_path, "flags", "review", "--format", "csv").stdout.splitlines()))
    urgent = next(r for r in review if r["severity"] == "urgent")
    ack = run(tmp_path, "flags", "ack", urgent["mrn"], urgent["code"], "--note", "seen; surgical review booked")
    assert ack.returncode == 0, ack.stderr
    after = list(csv.DictReader(run(tmp_path, "flags", "review", "--format", "csv").stdout.splitlines()))
    assert (urgent["mrn"], urgent["code"]) not in {(r["mrn"], r["code"]) for r in after}
    assert len(after) == len(review) - 1

    # The clinic report counts the reminder work.
    assert run(tmp_path, "report", "clinic", "-o", "clinic.pdf").returncode == 0
    from pypdf import PdfReader

    report = " ".join(page.extract_text() for page in PdfReader(tmp_path / "clinic.pdf").pages)
    assert "booked" in report and "deferred" in report

    reminders_before = run(tmp_path, "reminders", "--all", "--format", "csv").stdout
    again = run(tmp_path, "run", "nightly", "--again")  # really plans again, not "already done"
    assert again.returncode == 0, again.stderr
    assert run(tmp_path, "reminders", "--all", "--format", "csv").stdout == reminders_before  # nothing new, nothing reopened
    assert exported() == rows
    # The acknowledged flag stays off the review list, and the next night does not call it new.
    assert (urgent["mrn"], urgent["code"]) not in {
        (r["mrn"], r["code"]) for r in csv.DictReader(run(tmp_path, "flags", "review", "--format", "csv").stdout.splitlines())}
    digests = sorted((tmp_path / "outbox").glob("digest-*.txt"))
    assert digests and f"{urgent['mrn']}  {urgent['code']}" not in digests[-1].read_text().split("Flags waiting")[0]
