"""Spreadsheets out and in: the overdue list as .xlsx, workbooks imported like CSV files."""

import os
from datetime import datetime

import pytest

from tests.conftest import cli_as, import_csvs

PATIENTS = """mrn,name,sex,birth_date,enrolled_on,phone,preferred_contact,address
007,Zoë Müller,F,1970-01-01,2020-01-01,0044 7700 900123,letter,1 High St;Leeds;LS1 1AA
=1+1,=HYPERLINK("x"),M,1980-01-01,2022-01-01,,,
"""
EPISODES = """mrn,joint,side,onset_date,diagnosed_on,resolved_on
007,hip,left,2020-01-01,2020-01-10,2020-08-01
=1+1,hip,right,2022-01-01,2022-01-10,2022-08-01
"""
SCANS = """mrn,scan_date,scanner,site,side,bmd
007,2020-01-20,hologic,total_hip,left,0.8
=1+1,2024-05-20,hologic,total_hip,left,0.8
"""
AS_OF = "2026-06-01"


@pytest.fixture
def loaded(db_url, tmp_path):
    return import_csvs(db_url, tmp_path, {"patients": PATIENTS, "episodes": EPISODES, "scans": SCANS})


def test_xlsx_export_keeps_mrn_text_dates_and_a_frozen_header(loaded, tmp_path):
    """Excel must not turn MRN 007 into 7, nor run a name as a formula; dates sort as dates."""
    import openpyxl

    out = tmp_path / "overdue.xlsx"
    result = cli_as("clerk", loaded, "export", "overdue", "-o", str(out), "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    assert "Wrote 2 patient(s)" in result.output
    assert os.stat(out).st_mode & 0o777 == 0o600
    ws = openpyxl.load_workbook(out).active
    assert ws.freeze_panes == "A2" and ws["A1"].font.b
    header = [c.value for c in ws[1]]
    assert header[:4] == ["mrn", "name", "status", "due_date"]
    rows = {r[0].value: r for r in ws.iter_rows(min_row=2)}
    zoe = rows["007"]
    assert zoe[0].data_type == "s" and zoe[1].value == "Zoë Müller"
    assert zoe[header.index("due_date")].value == datetime(2022, 1, 20)
    assert zoe[header.index("due_date")].is_date
    assert zoe[header.index("days_overdue")].value == (datetime(2026, 6, 1) - datetime(2022, 1, 20)).days
    assert zoe[header.index("phone")].value == "0044 7700 900123"
    formula = rows["=1+1"]
    assert formula[0].data_type == "s" and formula[1].data_type == "s"
    assert formula[1].value == '=HYPERLINK("x")'


def test_xlsx_export_is_recorded_and_repeatable(loaded, tmp_path):
    """The same list gives the same bytes, and each export is in the audit log with its format."""
    import json

    from monitor.services.audit import audit_events
    from monitor.store import make_engine

    a, b = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    cli_as("clerk", loaded, "export", "overdue", "-o", str(a), "--as-of", AS_OF)
    cli_as("clerk", loaded, "export", "overdue", "-o", str(b), "--as-of", AS_OF)
    assert a.read_bytes() == b.read_bytes()
    events = audit_events(make_engine(loaded), "export_overdue")
    assert len(events) == 2 and json.loads(events["detail"].iloc[0])["format"] == "xlsx"
