"""`monitor reminders` as a clerk types it: by MRN, with the patient read back, assignment, booked dates."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from tests.conftest import cli_as, import_csvs

PATIENTS = """mrn,name,sex,birth_date
P1,Pat One,M,1970-01-01
007,Bond Seven,F,1980-01-01
P3,Pat Three,M,1975-01-01
"""
EPISODES = """mrn,joint,side,onset_date,diagnosed_on,resolved_on
P1,hip,left,2019-01-01,2019-01-10,2019-08-01
007,hip,right,2019-01-01,2019-01-10,2019-08-01
P3,hip,left,2019-01-01,2019-01-10,2019-08-01
"""
SCANS = """mrn,scan_date,site,side,bmd
P1,2020-02-01,total_hip,left,0.8
P1,2020-02-01,total_hip,right,0.9
007,2020-03-01,total_hip,left,0.8
007,2020-03-01,total_hip,right,0.9
P3,2020-04-01,total_hip,left,0.8
P3,2020-04-01,total_hip,right,0.9
"""
TODAY = datetime.now(timezone.utc).date()  # the default config's clinic zone is UTC


def cli(db_url, *args, user="clerk1"):
    return cli_as(user, db_url, *args)


@pytest.fixture
def worked(db_url, tmp_path):
    """Three overdue patients after tonight's run: one open reminder each."""
    import_csvs(db_url, tmp_path, {"patients": PATIENTS, "episodes": EPISODES, "scans": SCANS})
    done = cli(db_url, "--config", str(_outbox_config(tmp_path)), "run", "nightly")
    assert done.exit_code == 0, done.output
    return db_url


def _outbox_config(tmp_path):
    path = tmp_path / "clinic.toml"
    path.write_text(f'[jobs]\noutbox = "{tmp_path / "outbox"}"\n', encoding="utf-8")
    return path


def reminder_of(db_url, mrn) -> int:
    from monitor.store import make_engine

    with make_engine(db_url).connect() as conn:
        return conn.execute(text("SELECT r.id FROM reminder r JOIN patient p ON p.id = r.patient_id "
                                 "WHERE p.mrn = :m ORDER BY r.id DESC"), {"m": mrn}).scalar()


def test_each_action_reads_back_the_patient(worked):
    """A clerk working by MRN sees whom they recorded against: MRN, name, reminder, due date, state."""
    rid = reminder_of(worked, "P1")
    on = (TODAY + timedelta(days=10)).isoformat()
    steps = [
        (["outreach", "P1", "--outcome", "unreachable"], "outreach unreachable; still open."),
        (["outreach", "P1", "--outcome", "booked", "--on", on], f"booked for {on}; still open."),
        (["assign", "P1", "--to", "clerk2"], "assigned to clerk2; still open."),
        (["unassign", "P1"], "unassigned; still open."),
        (["defer", "P1", "--until", (TODAY + timedelta(days=30)).isoformat(), "--reason", "abroad"],
         f"deferred until {(TODAY + timedelta(days=30)).isoformat()} (abroad); now deferred."),
        (["reopen", "P1"], "reopened; now open."),
        (["close", "P1", "--reason", "moved away"], "closed (moved away); now closed."),
        (["reopen", "P1", "--reason", "came back"], "reopened (came back); now open."),
    ]
    for args, says in steps:
        result = cli(worked, "reminders", *args)
        assert result.exit_code == 0, result.output
        assert result.output == f"P1 (Pat One), reminder {rid} (DXA due 2022-02-01): {says}\n"


def test_digits_are_an_mrn_first_and_id_prefix_forces_an_id(worked):
    """MRN `007` is the patient, never reminder 7; `id:N` names a reminder whatever MRNs exist."""
    bond = cli(worked, "reminders", "outreach", "007", "--outcome", "contacted")
    assert bond.exit_code == 0 and bond.output.startswith("007 (Bond Seven), reminder ")
    rid = reminder_of(worked, "P3")
    by_id = cli(worked, "reminders", "outreach", f"id:{rid}", "--outcome", "contacted")
    assert by_id.output.startswith(f"P3 (Pat Three), reminder {rid} ")
    plain = cli(worked, "reminders", "outreach", str(rid), "--outcome", "contacted")  # no MRN is that number
    assert plain.output.startswith(f"P3 (Pat Three), reminder {rid} ")


def test_several_open_reminders_ask_which(worked):
    """Two live reminders for one MRN: nothing is written; the error lists both ids (exit 1, no name)."""
    from monitor.store import make_engine

    with make_engine(worked).begin() as conn:
        pid = conn.execute(text("SELECT id FROM patient WHERE mrn = 'P1'")).scalar()
        conn.execute(text("INSERT INTO reminder (patient_id, item, due_date, created_at) "
                          "VALUES (:p, 'dxa', '2019-01-01', :at)"), {"p": pid, "at": datetime.now(timezone.utc)})
    newest = reminder_of(worked, "P1")
    result = cli(worked, "reminders", "outreach", "P1", "--outcome", "contacted")
    assert result.exit_code == 1
    assert "Error: P1 has 2 reminders this could mean; give the id" in result.output
    assert f"id:{newest}  DXA due 2019-01-01, open" in result.output and "Pat One" not in result.output
    history = cli(worked, "reminders", "history", "P1")
    assert history.exit_code == 0 and history.output.count("P1 (Pat One), reminder ") == 2


def test_booked_needs_its_date_and_only_booked_has_one(worked):
    """An appointment without a date cannot be chased; a date on another outcome would be misread."""
    missing = cli(worked, "reminders", "outreach", "P1", "--outcome", "booked")
    assert missing.exit_code == 1 and "Error: --outcome booked needs the appointment date: --on YYYY-MM-DD" in missing.output
    stray = cli(worked, "reminders", "outreach", "P1", "--outcome", "declined", "--on", TODAY.isoformat())
    assert stray.exit_code == 1 and "only with --outcome booked" in stray.output
    far = cli(worked, "reminders", "outreach", "P1", "--outcome", "booked", "--on", "2099-01-01")
    assert far.exit_code == 1 and "more than two years ahead" in far.output
    bad = cli(worked, "reminders", "outreach", "P1", "--outcome", "booked", "--on", "3/12/2026")
    assert bad.exit_code == 1 and "expected a date YYYY-MM-DD" in bad.output
    assert "outreach" not in cli(worked, "reminders", "history", "P1").output.split("note", 1)[1]


def test_mine_lists_what_is_assigned_to_me(worked):
    """--mine is the OS user's (or --by's) list; assignment never changes the state."""
    assert cli(worked, "reminders", "assign", "P1", "--to", "clerk1", "--due-by",
               (TODAY + timedelta(days=7)).isoformat()).exit_code == 0
    assert cli(worked, "reminders", "assign", "P3", "--to", "nurse").exit_code == 0
    mine = cli(worked, "reminders", "--mine", "--format", "json")  # the OS user is clerk1
    rows = json.loads(mine.output)
    assert [(r["mrn"], r["assigned_to"], r["state"]) for r in rows] == [("P1", "clerk1", "open")]
    assert rows[0]["due_by"] == (TODAY + timedelta(days=7)).isoformat()
    theirs = json.loads(cli(worked, "reminders", "--mine", "--by", "nurse", "--format", "json").output)
    assert [r["mrn"] for r in theirs] == ["P3"]
    nobody = json.loads(cli(worked, "reminders", "--unassigned", "--format", "json").output)
    assert [r["mrn"] for r in nobody] == ["007"]
    named = json.loads(cli(worked, "reminders", "--assigned-to", "nurse", "--format", "json").output)
    assert [r["mrn"] for r in named] == ["P3"]


def test_unknown_mrn_and_closed_reminder_are_clear_errors(worked):
    """A typo names what was typed; a closed reminder is not worked by MRN."""
    typo = cli(worked, "reminders", "defer", "P9", "--until", "2099-01-01", "--reason", "x")
    assert typo.exit_code == 1 and typo.output == "Error: no patient with MRN 'P9'\n"
    cli(worked, "reminders", "close", "P1", "--reason", "moved away")
    closed = cli(worked, "reminders", "outreach", "P1", "--outcome", "contacted")
    assert closed.exit_code == 1 and "P1 has no open or deferred reminder; `monitor reminders --all`" in closed.output


def test_due_and_show_carry_the_reminder_state(worked):
    """A deferred patient says until when and why in `due` and `show`; the CSV keeps the state plain."""
    until = (TODAY + timedelta(days=60)).isoformat()
    cli(worked, "reminders", "defer", "P1", "--until", until, "--reason", "patient abroad")
    on = (TODAY + timedelta(days=5)).isoformat()
    cli(worked, "reminders", "outreach", "P3", "--outcome", "booked", "--on", on)
    table = cli(worked, "due").output
    assert f"deferred until {until} (patient abroad)" in table
    rows = {r["mrn"]: r for r in csv.DictReader(io.StringIO(cli(worked, "due", "--format", "csv").output))}
    assert rows["P1"]["reminder_state"] == "deferred" and rows["P1"]["reminder_note"] == f"until {until}: patient abroad"
    assert rows["P3"]["reminder_state"] == "open" and rows["P3"]["last_outreach_on"] == TODAY.isoformat()
    assert f"booked {TODAY.isoformat()} for {on}" in rows["P3"]["reminder_note"]
    show = cli(worked, "show", "P1").output
    section = show.split("Reminders (1), newest first:")[1]
    assert f"DXA due 2022-02-01): deferred until {until} (patient abroad)" in section
    assert "deferred" in section and "+00:00" in section and "patient abroad" in section


def test_reminder_list_shows_last_outreach_with_its_date(worked):
    """`last_outreach` says what happened and when, not just a code."""
    cli(worked, "reminders", "outreach", "P1", "--outcome", "unreachable")
    rows = json.loads(cli(worked, "reminders", "--format", "json").output)
    assert {r["mrn"]: r["last_outreach"] for r in rows}["P1"] == f"unreachable {TODAY.isoformat()}"

