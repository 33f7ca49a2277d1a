"""`due`, `flags`, `flags review`, `reminders`, the exports, the recall letters and the clinic report evaluated in
chunks of patients read byte for byte as the whole cohort evaluated at once, through the installed `monitor`, one process per command."""

from __future__ import annotations

import csv
import io
import subprocess
from pathlib import Path

import pytest

from tests.process.commands import MONITOR, REPO, user_env

AS_OF = "2026-11-20"
LISTS = {
    "due.csv": ("due", "--format", "csv"),
    "due.json": ("due", "--format", "json"),
    "due.table": ("due", "--format", "table"),
    "due-overdue.table": ("due", "--status", "overdue"),
    "flags.json": ("flags", "--format", "json"),
    "flags.table": ("flags", "--format", "table"),
    "flags-warn.table": ("flags", "--severity", "warn"),
    "review.csv": ("flags", "review", "--format", "csv"),
    "review.table": ("flags", "review"),
    "reminders.table": ("reminders",),
    "reminders.csv": ("reminders", "--format", "csv"),
    "reminders-all.csv": ("reminders", "--all", "--format", "csv"),
    "reminders-deferred.json": ("reminders", "--state", "deferred", "--format", "json"),
}


def run(folder: Path, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([str(MONITOR), *args], cwd=folder, capture_output=True, timeout=600, env=user_env())
    assert done.returncode == 0 and b"Traceback" not in done.stderr, done.stderr.decode()
    return done


def lists(folder: Path, chunk_patients: int | None, *, names=tuple(LISTS), xlsx: bool = False,
          workers: int | None = None, files: bool = False, clinic: bool = False) -> dict[str, bytes]:
    """Each list's stdout, and the overdue export's file, with `[scale] chunk_patients` set (None:
    unset) and `[scale] evaluation_workers` (None: unset, the default two worker processes); with
    `files`, the calendar, the recall letters, the FHIR care gaps and history too; with `clinic`,
    the clinic report (the demo's is compared in chunks in tests/integration/test_clinic_summary.py)."""
    options = []
    if chunk_patients is not None or workers is not None:
        config = folder / f"chunks-{chunk_patients}-{workers}.toml"
        config.write_text("[scale]\n" + (f"chunk_patients = {chunk_patients}\n" if chunk_patients is not None else "")
                          + (f"evaluation_workers = {workers}\n" if workers is not None else ""))
        options = ["--config", config.name]
    out = {name: run(folder, *options, *LISTS[name], "--as-of", AS_OF).stdout for name in names}
    target = f"overdue-{chunk_patients}.csv"
    said = run(folder, *options, "export", "overdue", "-o", target, "--as-of", AS_OF).stdout
    out["overdue.csv"] = (folder / target).read_bytes()
    out["export says"] = said.replace(target.encode(), b"FILE")
    if files:  # the schedule's rows (calendar, letters) and the care gaps, gathered from the chunks
        for name, command in (("due.ics", ("export", "calendar", "--with-names")), ("letters.pdf", ("letters",)),
                              ("gaps.json", ("export", "fhir")), ("history.json", ("export", "fhir", "--history")),
                              *([("clinic.pdf", ("report", "clinic"))] if clinic else [])):
            target = f"{chunk_patients}-{workers}-{name}"
            run(folder, *options, *command, "-o", target, "--as-of", AS_OF)
            out[name] = (folder / target).read_bytes()
    if xlsx:  # the workbook is built from the merged rows: the same bytes too
        run(folder, *options, "export", "overdue", "-o", f"overdue-{chunk_patients}.xlsx", "--as-of", AS_OF)
        out["overdue.xlsx"] = (folder / f"overdue-{chunk_patients}.xlsx").read_bytes()
    return out


def load(folder: Path, files: list[Path]) -> None:
    run(folder, "init")
    run(folder, "import", *[str(f) for f in files])


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """The demo cohort with an acknowledged flag and reminders in several states."""
    folder = tmp_path_factory.mktemp("chunked-demo")
    load(folder, sorted((REPO / "data" / "demo").glob("*.csv")))
    run(folder, "flags", "ack", "TOH-000002", "mri_misread_risk", "--note", "re-read as TOH", "--as-of", AS_OF)
    run(folder, "run", "nightly", "--as-of", AS_OF)
    due = run(folder, "due", "--status", "overdue", "--format", "csv", "--as-of", AS_OF).stdout.decode()
    overdue = [line.split(",")[0] for line in due.splitlines()[1:4]]
    run(folder, "reminders", "outreach", overdue[0], "--outcome", "unreachable", "--note", "no answer")
    run(folder, "reminders", "defer", overdue[1], "--until", "2030-01-15", "--reason", "abroad")
    return folder


def test_demo_lists_are_the_same_in_chunks_as_at_once(demo):
    """A clinic that sets a chunk size (to bound memory) gets the same lists, rows and bytes."""
    whole = lists(demo, 0, files=True)
    assert whole["due.ics"].count(b"BEGIN:VEVENT") > 50 and whole["letters.pdf"].startswith(b"%PDF")
    assert whole["due.csv"].count(b"\n") > 250 and b"acknowledged_by" in whole["flags.json"]
    assert b"deferred until 2030-01-15" in whole["due.table"] and b"unreachable" in whole["due.csv"]
    assert b"deferred" in whole["reminders-deferred.json"] and b"unreachable" in whole["reminders.csv"]
    review = list(csv.DictReader(io.StringIO(whole["review.csv"].decode())))
    assert len(review) > 20 and ("TOH-000002", "mri_misread_risk") not in {(r["mrn"], r["code"]) for r in review}
    default = lists(demo, None, names=("due.csv",))  # unset: chunks of 10,000 patients
    assert default == {name: whole[name] for name in default}
    chunked = lists(demo, 45, files=True)  # 7 chunks, the last one short; a worker process evaluates them
    assert chunked == whole
    # The same chunks evaluated in the command's process (each list cut into text by the same code
    # either way: two lists and the export stand for all).
    here = lists(demo, 45, workers=0, names=("due.csv", "flags.json", "review.csv", "reminders-all.csv"))
    assert here == {name: whole[name] for name in here}


def test_tiny_cohort_lists_are_the_same_in_chunks_of_one_and_seven(tmp_path):
    """Chunks of one patient and of seven (the last one short) change no byte of any list."""
    run(tmp_path, "synth", "--patients", "9", "--seed", "3", "--end", AS_OF, "-o", "cohort")
    load(tmp_path, sorted((tmp_path / "cohort").glob("*.csv")))
    names = ("due.csv", "due.json", "due.table", "flags.json", "flags.table")
    whole = lists(tmp_path, 0, names=names, xlsx=True, files=True, clinic=True)
    assert whole["due.csv"].count(b"\n") >= 6 and whole["flags.json"].count(b'"mrn"') >= 10
    assert lists(tmp_path, 7, names=names, xlsx=True, files=True, clinic=True) == whole
    # (the default: two worker processes)
    assert lists(tmp_path, 1, names=names, xlsx=True, files=True, clinic=True) == whole


@pytest.mark.slow
def test_ten_thousand_patients_read_the_same_in_chunks(tmp_path):
    """The issue's check: a 10,000-patient synthetic cohort's lists, in chunks of 997 (the last
    one short) and all at once, are byte for byte the same (about two minutes on 2 cores)."""
    run(tmp_path, "synth", "--patients", "10000", "--seed", "1", "--end", AS_OF, "-o", "cohort")
    load(tmp_path, sorted((tmp_path / "cohort").glob("*.csv")))
    names = ("due.csv", "due.json", "due.table", "flags.json", "flags.table")
    whole = lists(tmp_path, 0, names=names)
    assert whole["due.csv"].count(b"\n") > 5000
    assert lists(tmp_path, 997, names=names) == whole
