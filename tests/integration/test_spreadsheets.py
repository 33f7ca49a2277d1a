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


def _workbook(path, sheets: dict[str, list[list]]):
    """A workbook as a clinic's spreadsheet saves it: one sheet per name, rows of typed cells."""
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        ws = book.create_sheet(title)
        for row in rows:
            ws.append(row)
    book.save(path)
    return path


def _demo_patients_sheet():
    """The demo's patients as a spreadsheet holds them: capitalised headers, real date cells."""
    import pandas as pd

    from tests.conftest import DEMO

    frame = pd.read_csv(DEMO / "patients.csv", dtype=str, keep_default_na=False)
    rows = [[f" {c.replace('_', ' ').title()} " for c in frame.columns]]
    for record in frame.itertuples(index=False):
        rows.append([datetime.fromisoformat(v) if v and c.endswith(("_date", "_on")) else (v or None)
                     for c, v in zip(frame.columns, record)])
    return frame, rows


def test_xlsx_import_with_capitalised_headers_imports_the_demo_patients(db_url, tmp_path):
    """A clinic saves its patient list from Excel with its own header style: it imports, and again changes nothing."""
    from monitor.services.exports import due_list  # noqa: F401  (the same services the CSV path uses)
    from monitor.store import make_engine, reading
    from sqlalchemy import text

    frame, rows = _demo_patients_sheet()
    book = _workbook(tmp_path / "clinic.xlsx", {"Patients": rows, "Sheet1": []})
    result = cli_as("clerk", db_url, "import", str(book))
    assert result.exit_code == 0, result.output
    assert result.output == f"clinic.xlsx, sheet 'Patients': imported {len(frame)} row(s): {len(frame)} new, " \
                            "0 updated, 0 unchanged\n"
    with reading(make_engine(db_url)) as conn:
        stored = dict(conn.execute(text("SELECT mrn, birth_date FROM patient")).all())
    first = frame.iloc[0]
    assert str(stored[first["mrn"]]) == first["birth_date"]
    again = cli_as("clerk", db_url, "import", str(book))
    assert f"0 new, 0 updated, {len(frame)} unchanged" in again.output


def test_xlsx_mrn_text_stays_and_errors_name_sheet_row_and_column(db_url, tmp_path):
    """MRN 007 typed as text stays 007; a bad cell is named by sheet, row and column; nothing is written."""
    book = _workbook(tmp_path / "c.xlsx", {
        "patients": [["mrn", "sex", "birth_date"], ["007", "F", datetime(1970, 1, 1)], [7, "F", datetime(1971, 1, 1)]],
        "scans": [["mrn", "scan_date", "site", "side", "bmd"], [], ["007", datetime(2020, 1, 1), "total_hip", "left", 9]],
    })
    result = cli_as("clerk", db_url, "import", str(book))
    assert result.exit_code == 2
    assert "c.xlsx, sheet 'scans', row 3, column 'bmd': expected a number between 0.2 and 2 g/cm², got '9'" \
        in result.output
    book = _workbook(tmp_path / "c.xlsx", {
        "patients": [["mrn", "sex", "birth_date"], ["007", "F", datetime(1970, 1, 1)], [7, "F", datetime(1971, 1, 1)]]})
    assert cli_as("clerk", db_url, "import", str(book)).exit_code == 0
    shown = cli_as("clerk", db_url, "show", "007")
    assert shown.exit_code == 0 and "Patient 007" in shown.output
    assert cli_as("clerk", db_url, "show", "7").exit_code == 0  # a number cell is read as its digits


def test_xlsx_unknown_sheet_and_kind_rules(db_url, tmp_path):
    """A sheet we cannot place is named, not skipped; --kind reads a single-sheet workbook."""
    rows = [["mrn", "sex", "birth_date"], ["A1", "F", "1970-01-01"]]
    book = _workbook(tmp_path / "c.xlsx", {"patients": rows, "Notes": [["anything"]]})
    result = cli_as("clerk", db_url, "import", str(book))
    assert result.exit_code == 2 and "cannot tell what sheet(s) 'Notes' hold" in result.output
    single = _workbook(tmp_path / "s.xlsx", {"Export 2026": rows})
    assert cli_as("clerk", db_url, "import", str(single)).exit_code == 2
    result = cli_as("clerk", db_url, "import", "--kind", "patients", str(single))
    assert result.exit_code == 0, result.output
    assert cli_as("clerk", db_url, "import", "--kind", "patients", str(book)).exit_code == 1


def test_csv_headers_ignore_case_and_blanks(db_url, tmp_path):
    """`MRN, Name ,Sex` from a spreadsheet is the same header as mrn,name,sex (INTERFACE)."""
    (tmp_path / "patients.csv").write_text("MRN, Name ,Sex,Birth Date\nA1,Ann,F,1970-01-01\n", encoding="utf-8")
    result = cli_as("clerk", db_url, "import", str(tmp_path / "patients.csv"))
    assert result.exit_code == 0, result.output


def test_day_first_dates_get_one_hint_then_import_with_date_format(db_url, tmp_path):
    """600 identical errors help nobody: one hint, then the user says the order and it imports."""
    body = "".join(f"P{i},F,25/11/19{50 + i % 40}\n" for i in range(600))
    path = tmp_path / "patients.csv"
    path.write_text("mrn,sex,birth_date\n" + body, encoding="utf-8")
    result = cli_as("clerk", db_url, "import", str(path))
    assert result.exit_code == 2
    assert result.output == ("Error: patients.csv, line 2, column 'birth_date': dates must be YYYY-MM-DD; this file "
                             "looks like DD/MM/YYYY (the first such date is here); re-save the dates as YYYY-MM-DD "
                             "or pass --date-format DD/MM/YYYY\n")
    result = cli_as("clerk", db_url, "import", "--date-format", "DD/MM/YYYY", str(path))
    assert result.exit_code == 0, result.output
    assert "born 1950-11-25" in cli_as("clerk", db_url, "show", "P0").output
    path.write_text("mrn,sex,birth_date\nQ1,F,1970-01-01\n", encoding="utf-8")
    result = cli_as("clerk", db_url, "import", "--date-format", "MM/DD/YYYY", str(path))
    assert result.exit_code == 2
    assert "patients.csv, line 2, column 'birth_date': expected a date MM/DD/YYYY (as --date-format says)" \
        in result.output


def test_calendar_export_parses_and_keeps_uids_on_re_export(loaded, tmp_path):
    """A clinic imports the .ics again next week: the same UIDs update events instead of doubling them."""
    from icalendar import Calendar

    from monitor.services.audit import audit_events
    from monitor.store import make_engine

    first, second = tmp_path / "a.ics", tmp_path / "b.ics"
    result = cli_as("clerk", loaded, "export", "calendar", "-o", str(first), "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    assert result.output == f"Wrote 2 DXA due date(s) on {AS_OF} to {first}\n"
    assert os.stat(first).st_mode & 0o777 == 0o600
    cli_as("clerk", loaded, "export", "calendar", "-o", str(second), "--as-of", "2026-06-08")
    uids = [[str(e["uid"]) for e in Calendar.from_ical(p.read_bytes()).walk("VEVENT")] for p in (first, second)]
    assert len(uids[0]) == 2 and uids[0] == uids[1]
    assert "Zoë" not in first.read_text(encoding="utf-8")
    events = audit_events(make_engine(loaded), "export_calendar")
    assert events["rows"].tolist() == [2, 2]


def test_calendar_export_status_filter_and_names(loaded, tmp_path):
    """--status narrows the events; names appear only with --with-names."""
    out = tmp_path / "o.ics"
    result = cli_as("clerk", loaded, "export", "calendar", "-o", str(out), "--as-of", AS_OF, "--status", "due_soon",
                    "--with-names")
    assert result.exit_code == 0 and "Wrote 0 DXA" in result.output
    cli_as("clerk", loaded, "export", "calendar", "-o", str(out), "--as-of", AS_OF, "--with-names")
    assert "(Zoë Müller)" in out.read_text(encoding="utf-8")


def test_letters_one_page_per_letter_patient_with_address_and_plain_reason(loaded, tmp_path):
    """A recall letter reaches the patient who asked for post: their address, a reason in words, how to book."""
    import json

    from pypdf import PdfReader

    from monitor.services.audit import audit_events
    from monitor.store import make_engine

    config = tmp_path / "clinic.toml"
    config.write_text('[letters]\nclinic_name = "Leeds Bone Clinic"\nclinic_phone = "0113 496 0000"\n',
                      encoding="utf-8")
    out = tmp_path / "letters.pdf"
    result = cli_as("clerk", loaded, "--config", str(config), "letters", "-o", str(out), "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    assert result.output == f"Wrote 1 recall letter(s) for {AS_OF} to {out}\n"
    assert os.stat(out).st_mode & 0o777 == 0o600
    pages = PdfReader(out).pages
    assert len(pages) == 1
    text = " ".join(pages[0].extract_text().split())  # lines joined: a sentence may wrap
    for expected in ("Leeds Bone Clinic", "1 High St", "LS1 1AA", "1 June 2026", "Dear Zoë Müller,",
                     "was due on 20 January 2022", "telephone us on 0113 496 0000"):
        assert expected in text, expected
    assert "_" not in text  # no codes
    events = audit_events(make_engine(loaded), "letters")
    assert json.loads(events["detail"].iloc[0])["mrns"] == ["007"] and events["rows"].tolist() == [1]


def test_letters_from_the_clinics_template_which_cannot_run_code(loaded, tmp_path):
    """A clinic edits its own letter; a template that tries to reach Python is refused, not run."""
    from pypdf import PdfReader

    (tmp_path / "mine.txt").write_text("# {{ clinic.name }}\nHello {{ patient.name }}, due {{ due_on }}.\n",
                                       encoding="utf-8")
    config = tmp_path / "clinic.toml"
    config.write_text('[letters]\ntemplate = "mine.txt"\nclinic_name = "Bone Clinic"\n', encoding="utf-8")
    out = tmp_path / "letters.pdf"
    result = cli_as("clerk", loaded, "--config", str(config), "letters", "-o", str(out), "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    assert "Hello Zoë Müller, due 2022-01-20." in PdfReader(out).pages[0].extract_text()
    (tmp_path / "mine.txt").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}", encoding="utf-8")
    result = cli_as("clerk", loaded, "--config", str(config), "letters", "-o", str(tmp_path / "x.pdf"),
                    "--as-of", AS_OF)
    assert result.exit_code == 1 and "letters template" in result.output and "not allowed" in result.output
    assert not (tmp_path / "x.pdf").exists()
    (tmp_path / "mine.txt").write_text("{{ nobody }}", encoding="utf-8")
    result = cli_as("clerk", loaded, "--config", str(config), "letters", "-o", str(tmp_path / "x.pdf"),
                    "--as-of", AS_OF)
    assert result.exit_code == 1 and "'nobody' is undefined" in result.output
