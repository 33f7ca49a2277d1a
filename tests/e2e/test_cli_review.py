"""`monitor flags review` as a clinician uses it: what waits, oldest first; `flags ack` takes one off."""

from __future__ import annotations

import csv
import io
import json

import pytest
from pypdf import PdfReader

from tests.conftest import cli_as, import_csvs

PATIENTS = ("mrn,name,sex,birth_date,enrolled_on\nA1,Ann Example,F,1990-05-01,2026-03-15\n"
            "B2,Bea Example,F,1980-05-01,2024-03-15\n")
EPISODES = ("mrn,joint,side,onset_date,diagnosed_on,pregnancy_associated\nA1,hip,left,2026-03-01,2026-03-15,yes\n"
            "B2,hip,left,2024-03-01,2024-03-15,no\n")
SCANS = "mrn,scan_date,site,side,bmd\nB2,2024-04-01,total_hip,left,0.801\n"


@pytest.fixture
def loaded(db_url, tmp_path):
    url = import_csvs(db_url, tmp_path, {"patients": PATIENTS, "episodes": EPISODES, "scans": SCANS})
    (tmp_path / "c.toml").write_text(f'[jobs]\noutbox = "{tmp_path / "outbox"}"\n', encoding="utf-8")
    return url, str(tmp_path / "c.toml")


def review(url, *args):
    result = cli_as("drlee", url, "flags", "review", "--as-of", "2026-06-03", *args)
    assert result.exit_code == 0, result.output
    return result.output


def test_review_lists_waiting_flags_oldest_first_and_ack_removes_one(loaded):
    """A clinician works the list from the top; an acknowledged flag is gone until its evidence changes."""
    url, config = loaded
    first = review(url)
    assert "* 2 not yet seen by a nightly run" in first  # no nightly run yet: counted from --as-of
    ran = cli_as("night", url, "--config", config, "run", "nightly", "--as-of", "2026-06-01")
    assert ran.exit_code == 0, ran.output
    rows = list(csv.DictReader(io.StringIO(review(url, "--format", "csv"))))
    assert [(r["mrn"], r["code"], r["first_seen_on"], r["days_open"], r["seen_by_run"]) for r in rows] == [
        ("A1", "pregnancy_toh_fracture_risk", "2026-06-01", "2", "yes"),
        ("B2", "incomplete_bilateral_scan", "2026-06-01", "2", "yes")]
    assert rows[0]["name"] == "Ann Example" and rows[0]["severity"] == "urgent"
    urgent = json.loads(review(url, "--severity", "urgent", "--format", "json"))
    assert [r["mrn"] for r in urgent] == ["A1"] and urgent[0]["seen_by_run"] is True
    acked = cli_as("drlee", url, "flags", "ack", "A1", "pregnancy_toh_fracture_risk", "--note", "ortho review booked",
                   "--as-of", "2026-06-03")
    assert acked.exit_code == 0, acked.output
    table = review(url)
    assert "pregnancy_toh_fracture_risk" not in table and "B2" in table
    assert table.rstrip().endswith("1 flag(s) waiting for review on 1 patient(s), as of 2026-06-03. "
                                   "Acknowledge with: monitor flags ack MRN CODE --note TEXT")


def test_viewing_the_review_list_is_audited(loaded):
    """Names of patients with urgent flags were shown: the audit log says who saw them."""
    from sqlalchemy import text

    from monitor.store import make_engine

    url, _ = loaded
    review(url)
    with make_engine(url).connect() as conn:
        actions = [r[0] for r in conn.execute(text("SELECT action FROM audit_event WHERE actor = 'drlee'"))]
    assert actions == ["view_flag_review"]


def test_jobs_shows_times_in_the_clinic_zone_with_offset(loaded, tmp_path):
    """A clerk reading `monitor jobs` sees when the run finished on the clinic's clock, unambiguously."""
    url, _ = loaded
    config = tmp_path / "berlin.toml"
    config.write_text(f'timezone = "Europe/Berlin"\n[jobs]\noutbox = "{tmp_path / "outbox"}"\n', encoding="utf-8")
    assert cli_as("night", url, "--config", str(config), "run", "nightly", "--as-of", "2026-06-01").exit_code == 0
    out = cli_as("clerk", url, "--config", str(config), "jobs").output
    assert "finished (UTC)" not in out and "finished" in out
    import re

    assert re.search(r"nightly +next \d{4}-\d{2}-\d{2} 04:00 \+0[12]:00", out), out
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} \+0[12]:00", out.split("Last")[1]), out


@pytest.mark.parametrize("args, says", [
    (("flags", "review"), "0 flag(s) waiting for review on 0 patient(s)"),
    (("flags", "review", "--format", "csv"), "first_seen_on,days_open,mrn,name,severity,code,title,evidence"),
    (("flags", "review", "--format", "json"), "[]"),
    (("reminders", "--all", "--format", "csv"), "reminder_id,mrn,name,item,due_date,status"),
    (("reminders",), "0 reminder(s)"),
])
def test_the_chunked_lists_of_an_empty_database_are_empty(db_url, args, says):
    """A clinic that has imported nobody yet gets empty lists, never a traceback (the lists are
    gathered from chunks of patients: here there is no chunk at all)."""
    result = cli_as("drlee", db_url, *args, "--as-of", "2026-06-03")
    assert result.exit_code == 0 and says in result.output, result.output


def test_the_chunked_files_of_an_empty_database_are_empty(db_url, tmp_path):
    """The calendar, the letters, the FHIR care gaps and the clinic report of nobody: valid, empty files."""
    for args, says in ((("export", "calendar", "-o", str(tmp_path / "c.ics")), "Wrote 0 DXA due date(s)"),
                       (("letters", "-o", str(tmp_path / "l.pdf")), "Wrote 0 recall letter(s)"),
                       (("export", "fhir", "-o", str(tmp_path / "g.json")), "Wrote 0 patient(s)"),
                       (("report", "clinic", "-o", str(tmp_path / "r.pdf")), "Wrote ")):
        result = cli_as("drlee", db_url, *args, "--as-of", "2026-06-03")
        assert result.exit_code == 0 and says in result.output, result.output
    assert json.loads((tmp_path / "g.json").read_text()) == {"resourceType": "Bundle", "type": "collection",
                                                              "entry": []}
    assert (tmp_path / "c.ics").read_bytes().startswith(b"BEGIN:VCALENDAR")
    assert "0 of 0 active patients overdue" in PdfReader(str(tmp_path / "r.pdf")).pages[0].extract_text()
