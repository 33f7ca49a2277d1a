"""`monitor flags ack` as a clinician types it: the flag stays listed, leaves the worklists, and
comes back when its evidence changes."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from monitor.cli.main import main
from tests.conftest import cli_as, import_csvs, write_csv

PATIENTS = "mrn,name,sex,birth_date,enrolled_on\nA1,Ann Example,F,1980-05-01,2024-03-15\n"
EPISODES = "mrn,joint,side,onset_date,diagnosed_on\nA1,hip,left,2024-03-01,2024-03-15\n"
SCANS = "mrn,scan_date,site,side,bmd\nA1,2024-04-01,total_hip,left,0.801\nA1,2024-04-01,lumbar_spine,,1.020\n"
STAMP = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} [+-]\d{2}:\d{2}"


def cli(db_url, *args, user="drlee"):
    return cli_as(user, db_url, *args)


@pytest.fixture
def loaded(db_url, tmp_path):
    return import_csvs(db_url, tmp_path, {"patients": PATIENTS, "episodes": EPISODES, "scans": SCANS})


def test_flags_mrn_and_flags_ack_both_parse(loaded):
    """`monitor flags A1` lists one patient; `monitor flags ack ...` is the subcommand, not an MRN."""
    listed = cli(loaded, "flags", "A1", "--as-of", "2024-06-01")
    assert listed.exit_code == 0 and "A1  warn    incomplete_bilateral_scan" in listed.output
    done = cli(loaded, "flags", "ack", "A1", "incomplete_bilateral_scan", "--note", "femoral neck not needed here",
               "--by", "Dr Lee", "--as-of", "2024-06-01")
    assert done.exit_code == 0, done.output
    assert done.output.startswith("Acknowledged incomplete_bilateral_scan for A1 as it reads on 2024-06-01")


def test_acknowledged_flag_stays_listed_and_leaves_the_worklist(loaded):
    """The record keeps the flag (marked, who/when/note); the due list and digest no longer carry it."""
    before = json.loads(cli(loaded, "due", "--format", "json", "--as-of", "2024-06-01").output)
    assert "incomplete_bilateral_scan" in before[0]["flags"]
    assert cli(loaded, "flags", "ack", "A1", "incomplete_bilateral_scan", "--note", "seen",
               "--as-of", "2024-06-01").exit_code == 0
    flags = json.loads(cli(loaded, "flags", "A1", "--format", "json", "--as-of", "2024-06-01").output)
    acked = [f for f in flags if f["code"] == "incomplete_bilateral_scan"][0]
    assert acked["acknowledged_by"] == "drlee" and re.match(r"\d{4}-\d{2}-\d{2}T", acked["acknowledged_at"])
    assert all("acknowledged_by" not in f for f in flags if f["code"] != "incomplete_bilateral_scan")
    table = cli(loaded, "flags", "A1", "--as-of", "2024-06-01").output
    assert re.search(rf"incomplete_bilateral_scan: .*\[acknowledged\]\n.*\n.*\n    acknowledged by drlee at {STAMP}: seen",
                     table), table
    shown = cli(loaded, "show", "A1", "--as-of", "2024-06-01").output
    assert re.search(rf"\[warn\] incomplete_bilateral_scan: .*\[acknowledged by drlee at {STAMP}: seen\]", shown)
    after = json.loads(cli(loaded, "due", "--format", "json", "--as-of", "2024-06-01").output)
    assert "incomplete_bilateral_scan" not in after[0]["flags"]


def test_flag_comes_back_when_its_evidence_changes(loaded, tmp_path):
    """A new scan changes what the flag says: it is back on the worklist, unacknowledged."""
    assert cli(loaded, "flags", "ack", "A1", "incomplete_bilateral_scan", "--note", "seen",
               "--as-of", "2024-06-01").exit_code == 0
    scans = write_csv(tmp_path / "scans.csv", "mrn,scan_date,site,side,bmd\nA1,2025-04-01,total_hip,left,0.851\n")
    assert cli(loaded, "import", str(scans)).exit_code == 0
    flags = json.loads(cli(loaded, "flags", "A1", "--format", "json", "--as-of", "2025-06-01").output)
    back = [f for f in flags if f["code"] == "incomplete_bilateral_scan"][0]
    assert "acknowledged_by" not in back
    due = json.loads(cli(loaded, "due", "--format", "json", "--as-of", "2025-06-01").output)
    assert "incomplete_bilateral_scan" in due[0]["flags"]


@pytest.mark.parametrize("args, message", [
    (["A1", "therapy_indicated", "--note", "x"], "Error: A1 has no therapy_indicated flag on 2024-06-01"),
    (["A1", "no_such_code", "--note", "x"], "Error: unknown flag code 'no_such_code'"),
    (["ZZ", "incomplete_bilateral_scan", "--note", "x"], "Error: no patient with MRN 'ZZ'"),
    (["A1", "incomplete_bilateral_scan", "--note", "  "], "Error: a note is required"),
])
def test_ack_errors_are_clear(loaded, args, message):
    """A wrong MRN, code or a blank note is a plain error, and nothing is recorded."""
    result = CliRunner(env={"LOGNAME": "drlee"}).invoke(main, ["--db", loaded, "flags", "ack", *args,
                                                               "--as-of", "2024-06-01"])
    assert result.exit_code == 1 and result.output.startswith(message), result.output


def test_acknowledgement_is_audited_with_the_login_and_on_behalf_of(loaded):
    """Who acknowledged what is in the audit log: the OS user as actor, --by as on behalf of."""
    from monitor.services.audit import audit_events
    from monitor.store import make_engine

    assert cli(loaded, "flags", "ack", "A1", "incomplete_bilateral_scan", "--note", "seen", "--by", "Dr Lee",
               "--as-of", "2024-06-01").exit_code == 0
    events = audit_events(make_engine(loaded), "acknowledge_flag")
    assert len(events) == 1
    event = events.iloc[0]
    assert event["actor"] == "drlee" and event["subject"] == "patient A1"
    assert '"on_behalf_of": "Dr Lee"' in event["detail"] and '"code": "incomplete_bilateral_scan"' in event["detail"]
