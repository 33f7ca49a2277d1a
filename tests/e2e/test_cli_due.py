"""`due`, `export overdue` and `show` through the CLI, on a small known cohort."""

import csv
import json
import os

import pytest
from click.testing import CliRunner

from monitor.cli.main import main
from tests.conftest import write_csv

PATIENTS = """mrn,name,sex,birth_date,enrolled_on,status,risk_factors
OVR,=HYPERLINK("x"),M,1970-01-01,2020-01-01,active,smoking
DUE,Dee Due,F,1980-01-01,2022-01-01,active,
SOON,Sue Soon,M,1975-01-01,2022-01-01,active,
LATER,Len Later,M,1965-01-01,2022-01-01,active,
GONE,Gil Gone,M,1960-01-01,2020-01-01,discharged,
"""
EPISODES = """mrn,joint,side,onset_date,diagnosed_on,resolved_on
OVR,hip,left,2020-01-01,2020-01-10,2020-08-01
DUE,hip,right,2022-01-01,2022-01-10,2022-08-01
SOON,hip,left,2022-01-01,2022-01-10,2022-08-01
LATER,hip,left,2022-01-01,2022-01-10,2022-08-01
GONE,hip,left,2020-01-01,2020-01-10,
"""
SCANS = """mrn,scan_date,scanner,site,side,bmd
OVR,2020-01-20,hologic,total_hip,left,0.8
OVR,2020-01-20,hologic,total_hip,right,0.9
DUE,2024-05-20,hologic,total_hip,left,0.8
DUE,2024-05-20,hologic,total_hip,right,0.9
SOON,2024-07-10,hologic,total_hip,left,0.8
SOON,2024-07-10,hologic,total_hip,right,0.9
LATER,2025-06-01,hologic,total_hip,left,0.8
"""
AS_OF = "2026-06-01"


def cli(db_url, *args):
    return CliRunner().invoke(main, ["--db", db_url, *args], catch_exceptions=False)


@pytest.fixture
def cohort_db(db_url, tmp_path):
    files = [write_csv(tmp_path / f"{k}.csv", v) for k, v in
             (("patients", PATIENTS), ("episodes", EPISODES), ("scans", SCANS))]
    assert cli(db_url, "import", *map(str, files)).exit_code == 0
    return db_url


def test_due_json_lists_active_patients_most_overdue_first(cohort_db):
    """Overdue first, then by due date; discharged patients never appear."""
    result = cli(cohort_db, "due", "--as-of", AS_OF, "--format", "json")
    rows = json.loads(result.output)
    assert [(r["mrn"], r["status"], r["due_date"], r["days_overdue"]) for r in rows] == [
        ("OVR", "overdue", "2021-01-20", 1958),
        ("DUE", "due", "2026-05-20", 12),
        ("SOON", "due_soon", "2026-07-10", 0),
        ("LATER", "not_due", "2027-06-01", 0),
    ]
    assert rows[0]["risk_factors"] == "smoking" and rows[0]["interval_months"] == 12
    assert rows[3]["flags"] == "incomplete_bilateral_scan"
    assert set(rows[0]) == {"mrn", "name", "status", "due_date", "days_overdue", "last_scan_date",
                            "interval_months", "risk_factors", "flags", "as_of", "phone", "preferred_contact",
                            "reminder_state", "last_outreach_on", "assigned_to", "reminder_note"}
    assert rows[0]["reminder_state"] == "none"  # no nightly run yet: no reminder


def test_due_status_filter_and_table(cohort_db):
    """--status narrows the list; the table ends with a count and the date."""
    result = cli(cohort_db, "due", "--as-of", AS_OF, "--status", "due_soon")
    lines = result.output.splitlines()
    assert lines[0].split() == ["mrn", "name", "status", "due_date", "days_overdue", "last_scan_date",
                                "interval_months", "risk_factors", "flags", "phone", "preferred_contact",
                                "reminder_state", "last_outreach_on", "assigned_to"]
    assert lines[2].split()[:4] == ["SOON", "Sue", "Soon", "due_soon"]
    assert lines[-1] == "1 patient(s), as of 2026-06-01"


def test_export_overdue_csv(cohort_db, tmp_path):
    """The spreadsheet list: due and overdue only, contract columns, safe cells, owner-only file."""
    out = tmp_path / "overdue.csv"
    result = cli(cohort_db, "export", "overdue", "-o", str(out), "--as-of", AS_OF, "--by", "nurse1")
    assert result.exit_code == 0, result.output
    assert result.output == f"Wrote 2 patient(s) due or overdue on 2026-06-01 to {out}\n"
    assert os.stat(out).st_mode & 0o777 == 0o600
    with out.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["mrn", "name", "status", "due_date", "days_overdue", "last_scan_date",
                       "interval_months", "risk_factors", "flags", "as_of", "phone", "preferred_contact",
                       "reminder_state", "last_outreach_on", "assigned_to", "reminder_note"]
    assert rows[1] == ["OVR", "'=HYPERLINK(\"x\")", "overdue", "2021-01-20", "1958", "2020-01-20", "12",
                       "smoking", "", "2026-06-01", "", "", "none", "", "", ""]
    assert rows[2][0] == "DUE" and len(rows) == 3


def test_export_is_recorded(cohort_db, tmp_path):
    """Who exported which file, when and how many rows is kept."""
    from monitor.services.audit import audit_events
    from monitor.store import make_engine

    out = tmp_path / "o.csv"
    cli(cohort_db, "export", "overdue", "-o", str(out), "--as-of", AS_OF, "--by", "nurse1")
    import getpass
    import json

    events = audit_events(make_engine(cohort_db), "export_overdue")
    assert events[["actor", "subject", "rows"]].values.tolist() == [[getpass.getuser(), str(out.resolve()), 2]]
    assert json.loads(events["detail"].iloc[0])["on_behalf_of"] == "nurse1"


def test_export_to_missing_folder_fails_cleanly(cohort_db, tmp_path):
    """A bad output path is an error, and no stray file is left."""
    result = cli(cohort_db, "export", "overdue", "-o", str(tmp_path / "nope" / "o.csv"), "--as-of", AS_OF)
    assert result.exit_code == 1 and "folder does not exist" in result.stderr


def test_show_patient(cohort_db):
    """One patient's story: due status with its reason, episodes, scans."""
    result = cli(cohort_db, "show", "OVR", "--as-of", AS_OF)
    assert result.exit_code == 0
    out = result.output
    assert "overdue: next scan due 2021-01-20, 1958 days past due; interval 12 months" in out
    assert "why: 12 months after the scan of 2020-01-20 (risk factors: smoking)" in out
    scan_line = next(line for line in out.splitlines() if line.startswith("  2020-01-20"))
    assert scan_line.split() == ["2020-01-20", "hologic", "0.800", "-", "0.900", "-", "-"]


def test_show_unknown_mrn(cohort_db):
    """A mistyped MRN is a clear error."""
    result = cli(cohort_db, "show", "NOPE")
    assert result.exit_code == 1 and result.stderr == "Error: no patient with MRN 'NOPE'\n"


def test_bad_as_of(cohort_db):
    """A bad date on the command line is a usage error, not a crash."""
    result = cli(cohort_db, "due", "--as-of", "2026-13-01")
    assert result.exit_code == 2 and "expected a date YYYY-MM-DD, got '2026-13-01'" in result.output


def test_flags_cli_table_and_json(cohort_db):
    """`monitor flags` lists each flag with evidence, action and sources; JSON has the contract's keys."""
    result = cli(cohort_db, "flags", "--as-of", AS_OF)
    assert result.exit_code == 0
    assert result.output.splitlines()[0] == ("LATER  warn    incomplete_bilateral_scan: Latest DXA scan does not "
                                             "cover both hips")
    assert result.output.splitlines()[-1] == "1 flag(s) on 1 patient(s), as of 2026-06-01"
    data = json.loads(cli(cohort_db, "flags", "LATER", "--as-of", AS_OF, "--format", "json").output)
    assert data == [{"mrn": "LATER", "code": "incomplete_bilateral_scan", "severity": "warn",
                     "title": "Latest DXA scan does not cover both hips",
                     "evidence": "scan of 2025-06-01: no total hip or femoral neck value for the right hip",
                     "action": "Measure both hips (total hip and femoral neck) at the next scan; TOH can recur "
                               "on the other side",
                     "sources": [1]}]
    assert cli(cohort_db, "flags", "--as-of", AS_OF, "--severity", "urgent").output == \
        "0 flag(s) on 0 patient(s), as of 2026-06-01\n"


def test_export_csv_starts_with_a_bom(cohort_db, tmp_path):
    """Excel reads "Zoë Müller" right only when a CSV file starts with the UTF-8 byte order mark."""
    out = tmp_path / "overdue.csv"
    cli(cohort_db, "export", "overdue", "-o", str(out), "--as-of", AS_OF)
    assert out.read_bytes().startswith(b"\xef\xbb\xbfmrn,name,status")


@pytest.mark.parametrize("fmt", ["csv", "json", "table"])
def test_due_flags_and_export_read_the_same_in_chunks_of_one_two_and_all(cohort_db, tmp_path, fmt):
    """On SQLite and PostgreSQL, chunks of patients change no byte of due, flags or the export."""
    outputs = {}
    for size in (0, 1, 2):
        config = tmp_path / f"chunks-{size}.toml"
        config.write_text(f"[scale]\nchunk_patients = {size}\n")
        out = [cli(cohort_db, "--config", str(config), "due", "--as-of", AS_OF, "--format", fmt).output]
        if fmt != "csv":
            out.append(cli(cohort_db, "--config", str(config), "flags", "--as-of", AS_OF, "--format", fmt).output)
        else:
            target = tmp_path / f"overdue-{size}.csv"
            done = cli(cohort_db, "--config", str(config), "export", "overdue", "-o", str(target), "--as-of", AS_OF)
            assert done.exit_code == 0, done.output
            out.append(target.read_bytes())
        outputs[size] = out
    assert outputs[1] == outputs[0] and outputs[2] == outputs[0]
    assert "OVR" in outputs[0][0]
