"""Spreadsheets in and out through the installed `monitor`, one process per command."""

from __future__ import annotations

import subprocess

from tests.process.commands import MONITOR, user_env


def test_workbook_in_workbook_and_calendar_out(tmp_path):
    """A clinic's workbook imports through the entry point, and the xlsx and ics it gets back open."""
    import openpyxl
    from icalendar import Calendar

    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "Patients"
    ws.append(["MRN", " Name ", "Sex", "Birth Date", "Preferred Contact", "Address"])
    ws.append(["007", "Zoë Müller", "F", "1970-01-01", "letter", "1 High St;Leeds"])
    ws = book.create_sheet("episodes")
    ws.append(["mrn", "joint", "side", "onset_date", "diagnosed_on"])
    ws.append(["007", "hip", "left", "2020-01-01", "2020-01-10"])
    book.save(tmp_path / "clinic.xlsx")

    def run(*args):
        return subprocess.run([str(MONITOR), *args], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                              env=user_env())

    assert run("init").returncode == 0
    imported = run("import", "clinic.xlsx")
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.splitlines()[0] == "clinic.xlsx, sheet 'Patients': imported 1 row(s): 1 new, 0 updated, 0 unchanged"
    exported = run("export", "overdue", "-o", "overdue.xlsx", "--as-of", "2026-06-01")
    assert exported.returncode == 0, exported.stderr
    assert openpyxl.load_workbook(tmp_path / "overdue.xlsx").active["A2"].value == "007"
    assert run("export", "calendar", "-o", "due.ics", "--as-of", "2026-06-01").returncode == 0
    events = Calendar.from_ical((tmp_path / "due.ics").read_bytes()).walk("VEVENT")
    assert [str(e["summary"]) for e in events] == ["DXA overdue since 2020-01-10: 007"]
    letters = run("letters", "-o", "letters.pdf", "--as-of", "2026-06-01")
    assert letters.returncode == 0 and letters.stdout == "Wrote 1 recall letter(s) for 2026-06-01 to letters.pdf\n"
    assert "Warning: the letters give no clinic telephone" in letters.stderr and "Traceback" not in letters.stderr
