"""`monitor records retract|restore|list` as staff type them: exact output and exit codes."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DEMO, cli_as, import_csvs, write_csv

MONITOR = str(Path(sys.executable).with_name("monitor"))
STAMP = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} [+-]\d{2}:\d{2}"  # the clinic zone, with its offset

PATIENTS = "mrn,name,sex,birth_date,enrolled_on\nA1,Ann Example,F,1980-05-01,2024-03-15\n"
EPISODES = "mrn,joint,side,onset_date,diagnosed_on\nA1,hip,left,2024-03-01,2024-03-15\n"
SCANS = ("mrn,scan_date,site,side,bmd\nA1,2024-04-01,total_hip,left,0.801\nA1,2024-04-01,total_hip,right,0.950\n"
         "A1,2024-04-01,lumbar_spine,,1.020\n")


def cli(db_url, *args, user="clerk1"):
    return cli_as(user, db_url, *args)


@pytest.fixture
def loaded(db_url, tmp_path):
    return import_csvs(db_url, tmp_path, {"patients": PATIENTS, "episodes": EPISODES, "scans": SCANS})


def test_retract_list_and_restore(loaded):
    """The whole correction cycle, with the messages staff read."""
    done = cli(loaded, "records", "retract", "episodes", "A1", "HIP", "left", "2024-03-01",
               "--reason", "onset typed wrong; real onset 2024-03-10", "--by", "Dr Lee")
    assert done.exit_code == 0, done.output
    assert done.output == ("Retracted episodes A1 hip left 2024-03-01: kept in the history, ignored by every rule.\n")

    shown = cli(loaded, "show", "A1", "--as-of", "2025-06-01")
    assert "Episodes (0):" in shown.output
    assert re.search(r"Retracted records \(1\), kept but ignored by every rule:\n"
                     r"  episodes hip left 2024-03-01 \(diagnosed_on 2024-03-15, pregnancy_associated no, "
                     r"fracture no\)\n"
                     rf"      retracted {STAMP} by clerk1 for Dr Lee: onset typed wrong; real onset 2024-03-10\n",
                     shown.output), shown.output

    back = cli(loaded, "records", "restore", "episodes", "A1", "hip", "left", "2024-03-01",
               "--reason", "the onset was right", user="clerk2")
    assert back.exit_code == 0, back.output
    assert back.output == "Restored episodes A1 hip left 2024-03-01: it counts again in every rule.\n"

    listed = cli(loaded, "records", "list", "A1")
    assert listed.exit_code == 0, listed.output
    assert re.fullmatch(
        r"Retractions of A1 \(1\):\n"
        r"  episodes hip left 2024-03-01 \(restored\)\n"
        rf"      retracted {STAMP} by clerk1 for Dr Lee: onset typed wrong; real onset 2024-03-10\n"
        rf"      restored {STAMP} by clerk2: the onset was right\n", listed.output), listed.output
    assert cli(loaded, "records", "list", "A1", "--active").output == "No active retractions for A1.\n"


def test_a_scan_date_retracts_every_site_and_json_lists_them(loaded):
    """One command takes back a whole scan; the list is machine-readable for an audit."""
    import json

    done = cli(loaded, "records", "retract", "scans", "A1", "2024-04-01", "--reason", "scan of another patient")
    assert done.exit_code == 0, done.output
    assert done.output.splitlines() == [
        "Retracted scans A1 2024-04-01 lumbar_spine: kept in the history, ignored by every rule.",
        "Retracted scans A1 2024-04-01 total_hip left: kept in the history, ignored by every rule.",
        "Retracted scans A1 2024-04-01 total_hip right: kept in the history, ignored by every rule.",
    ]
    listed = json.loads(cli(loaded, "records", "list", "A1", "--format", "json").output)
    assert [(r["kind"], r["record"], r["state"], r["retracted_by"], r["reason"]) for r in listed] == [
        ("scans", f"2024-04-01 {s}", "retracted", "clerk1", "scan of another patient")
        for s in ("lumbar_spine", "total_hip left", "total_hip right")]
    assert set(listed[0]) == {"kind", "record", "state", "retracted_at", "retracted_by", "on_behalf_of", "reason",
                              "restored_at", "restored_by", "restored_on_behalf_of", "restore_reason"}


@pytest.mark.parametrize("args, code, message", [
    (["retract", "episodes", "A1", "hip", "right", "2024-03-01", "--reason", "x"], 1,
     "Error: no such record: episodes A1 hip right 2024-03-01 (A1's episodes: hip left 2024-03-01)\n"),
    (["retract", "episodes", "ZZ9", "hip", "left", "2024-03-01", "--reason", "x"], 1,
     "Error: no patient with MRN 'ZZ9'\n"),
    (["restore", "episodes", "A1", "hip", "left", "2024-03-01", "--reason", "x"], 1,
     "Error: episodes A1 hip left 2024-03-01 is not retracted\n"),
    (["retract", "episodes", "A1", "hip", "left", "--reason", "x"], 2,
     "Error: episodes take JOINT SIDE ONSET_DATE after the MRN, e.g. hip left 2024-03-01; got: hip left\n"),
    (["retract", "episodes", "A1", "hip", "left", "2024-03-01"], 2, "Missing option '--reason'"),
    (["retract", "episodes", "A1", "hip", "left", "2024-03-01", "--reason", "  "], 2,
     "Invalid value for '--reason': say why (it must not be blank)"),
    (["retract", "patients", "A1", "--reason", "x"], 2, "Invalid value for 'KIND'"),
])
def test_mistakes_get_a_clear_error_and_change_nothing(loaded, args, code, message):
    """A retraction that silently did nothing, or the wrong thing, would leave a wrong record counting."""
    result = cli(loaded, "records", *args)
    assert result.exit_code == code, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert cli(loaded, "records", "list", "A1").output == "No retractions for A1.\n"


def test_retracting_twice_says_so(loaded):
    """The second clerk learns the record was already taken back, and by whom."""
    cli(loaded, "records", "retract", "episodes", "A1", "hip", "left", "2024-03-01", "--reason", "typo")
    again = cli(loaded, "records", "retract", "episodes", "A1", "hip", "left", "2024-03-01", "--reason", "typo",
                user="clerk2")
    assert again.exit_code == 1
    assert re.fullmatch(rf"Error: episodes A1 hip left 2024-03-01 is already retracted \(by clerk1 on {STAMP}: "
                        r"typo\)\n", again.output), again.output


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([MONITOR, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def due_row(cwd: Path, mrn: str) -> list[str]:
    out = run(cwd, "due", "--as-of", "2026-11-20", "--format", "csv")
    assert out.returncode == 0, out.stderr
    return next(line.split(",") for line in out.stdout.splitlines() if line.startswith(mrn + ","))


def test_correcting_an_onset_in_separate_processes(tmp_path):
    """The issue's workflow as a clinic runs it: import the right onset, retract the wrong one, interval back."""
    for name in ("patients.csv", "episodes.csv", "scans.csv"):
        shutil.copy(DEMO / name, tmp_path / name)
    assert run(tmp_path, "init").returncode == 0
    assert run(tmp_path, "import", "patients.csv", "episodes.csv", "scans.csv").returncode == 0
    before = due_row(tmp_path, "TOH-000002")
    assert (before[2], before[3], before[6]) == ("not_due", "2027-06-19", "24")

    fix = tmp_path / "fix"
    fix.mkdir()
    write_csv(fix / "episodes.csv", "mrn,joint,side,onset_date,diagnosed_on,resolved_on\n"
                                    "TOH-000002,hip,right,2023-04-28,2023-06-11,2024-04-30\n")
    assert run(fix, "--db", "sqlite:///../monitor.db", "import", "episodes.csv").returncode == 0
    assert due_row(tmp_path, "TOH-000002")[6] == "12"  # two episodes now: "recurrent"

    done = run(tmp_path, "records", "retract", "episodes", "TOH-000002", "hip", "right", "2023-04-25",
               "--reason", "onset typed wrong; real onset 2023-04-28")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert due_row(tmp_path, "TOH-000002") == before
    shown = run(tmp_path, "show", "TOH-000002", "--as-of", "2026-11-20")
    assert "Episodes (1):" in shown.stdout and "Retracted records (1)" in shown.stdout


# The --help examples of `monitor records` run as written in tests/process/test_help_examples.py.
