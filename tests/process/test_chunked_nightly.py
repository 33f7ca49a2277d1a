"""`monitor run nightly` evaluated in chunks of patients writes what the whole cohort at once
writes: the same reminders, events, `flag_seen` rows and run counts, and the same outbox files
byte for byte, through the installed `monitor`, one process per command."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

from tests.process.commands import REPO
from tests.process.test_chunked_lists import AS_OF, load, run

LATER = "2026-11-25"  # the next run: a deferral has expired, a scan has moved a due date


def written(folder: Path, chunk_patients: int, *, as_of: str = LATER, workers: int = 1) -> dict[str, object]:
    """Run the nightly for `as_of` on a copy of `folder` in chunks of `chunk_patients` (0: all at
    once), evaluated by `workers` worker processes (0: in the run's process; used only with more
    than one chunk), and what it wrote: its rows (clock times aside) and its outbox files."""
    copy = folder.parent / f"{folder.name}-{as_of}-chunks-{chunk_patients}-workers-{workers}"
    shutil.copytree(folder, copy)
    (copy / "chunks.toml").write_text(f"[scale]\nchunk_patients = {chunk_patients}\nevaluation_workers = {workers}\n")
    said = run(copy, "--config", "chunks.toml", "run", "nightly", "--as-of", as_of).stdout
    said = said.replace(str(copy).encode(), b"FOLDER")
    (database,) = copy.glob("*.db")
    with sqlite3.connect(database) as db:
        rows = {
            "reminder": db.execute("SELECT id, patient_id, item, due_date, run_id FROM reminder ORDER BY id").fetchall(),
            "reminder_event": db.execute(
                "SELECT reminder_id, actor, kind, outcome, reason, until FROM reminder_event "
                "ORDER BY reminder_id, id").fetchall(),
            "flag_seen": db.execute("SELECT patient_id, code, fingerprint, severity, first_seen_on, run_id "
                                    "FROM flag_seen ORDER BY patient_id, code, fingerprint").fetchall(),
            "job_run": [(job, slot, as_of, outcome, json.loads(counts)) for job, slot, as_of, outcome, counts in
                        db.execute("SELECT job, slot_on, as_of, outcome, counts FROM job_run ORDER BY id")],
            "job_completion": db.execute("SELECT job, slot_on, run_id FROM job_completion ORDER BY job, slot_on").fetchall(),
        }
    files = {f.name: f.read_bytes() for f in sorted((copy / "outbox").iterdir())}
    return {"says": said, "rows": rows, "files": files}


def later_scan(folder: Path, mrn: str) -> Path:
    """A new scan for `mrn` (its last scan's rows, dated after the first run): its due date moves."""
    lines = (REPO / "data" / "demo" / "scans.csv").read_text().splitlines()
    mine = [line for line in lines[1:] if line.startswith(mrn + ",")]
    last = max(line.split(",")[1] for line in mine)
    rows = [line.replace(f",{last},", ",2026-11-22,", 1) for line in mine if line.split(",")[1] == last]
    target = folder / "later" / "scans.csv"
    target.parent.mkdir()
    target.write_text("\n".join([lines[0], *rows]) + "\n")
    return target


def test_demo_nightly_writes_the_same_in_chunks_as_at_once(tmp_path):
    """Chunks of 29, 45 and all (chunks of 1 and 7 on the small synthetic cohort below: each chunk
    pays the evaluation's fixed cost, so 300 chunks of one patient cost minutes here): the same
    rows, counts and outbox bytes (reminders opened, closed by a new scan, reopened after a
    deferral, kept for an urgent flag; flags first seen)."""
    folder = tmp_path / "demo"
    folder.mkdir()
    load(folder, sorted((REPO / "data" / "demo").glob("*.csv")))
    run(folder, "flags", "ack", "TOH-000002", "mri_misread_risk", "--note", "re-read as TOH", "--as-of", AS_OF)
    first = written(folder, 0, as_of=AS_OF)
    assert first["rows"]["job_run"][-1][-1]["new"] > 50 and first["rows"]["flag_seen"]
    assert written(folder, 45, as_of=AS_OF) == first, "first night, chunks of 45"
    assert written(folder, 29, as_of=AS_OF, workers=0) == first, "first night, chunks of 29 in the run's process"
    run(folder, "run", "nightly", "--as-of", AS_OF)
    due = run(folder, "due", "--status", "overdue", "--format", "csv", "--as-of", AS_OF).stdout.decode()
    overdue = [line.split(",")[0] for line in due.splitlines()[1:6]]
    run(folder, "reminders", "outreach", overdue[0], "--outcome", "unreachable", "--note", "no answer")
    run(folder, "reminders", "defer", overdue[1], "--until", "2030-01-16", "--reason", "abroad")
    with sqlite3.connect(next(folder.glob("*.db"))) as db:  # as a deferral recorded on the day, for three days
        db.execute("UPDATE reminder_event SET until = '2026-11-23' WHERE kind = 'deferred' AND reason = 'abroad'")
    run(folder, "reminders", "defer", overdue[2], "--until", "2030-01-15", "--reason", "moved")
    run(folder, "import", str(later_scan(folder, overdue[3])))

    whole = written(folder, 0)
    counts = whole["rows"]["job_run"][-1][-1]
    assert counts["closed"] == 1 and counts["reopened"] == 1 and counts["deferred_urgent"] >= 0, counts
    assert {"worklist-" + LATER + ".csv", "digest-" + LATER + ".txt"} <= set(whole["files"])
    assert whole["files"]["worklist-" + LATER + ".csv"].count(b"\n") > 50
    assert written(folder, 29) == whole, "next night, chunks of 29"
    assert written(folder, 45, workers=2) == whole, "next night, chunks of 45, two workers"


def test_synthetic_nightly_writes_the_same_in_chunks_of_one_and_seven(tmp_path):
    """A small synthetic cohort, twice (the first night and the next): the same in chunks of 1, 7, all."""
    folder = tmp_path / "synth"
    folder.mkdir()
    run(folder, "synth", "--patients", "23", "--seed", "5", "--end", AS_OF, "-o", "cohort")
    load(folder, sorted((folder / "cohort").glob("*.csv")))
    shutil.rmtree(folder / "cohort")
    whole = written(folder, 0)
    assert whole["rows"]["reminder"] and whole["rows"]["flag_seen"]
    assert written(folder, 7) == whole
    assert written(folder, 1) == whole
    assert written(folder, 1, workers=0) == whole
