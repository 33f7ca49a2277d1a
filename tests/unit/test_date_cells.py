"""Day-first and month-first dates: one hint per file, an explicit format, never a silent guess."""

import pandas as pd
import pytest

from monitor.formats.date_cells import convert_dates, slashed_dates_hint, slashed_pattern
from monitor.formats.xlsx_read import cell_text


def _cols(**columns):
    return {name: pd.Series(cells, dtype="str") for name, cells in columns.items()}


@pytest.mark.parametrize("cells, pattern, example", [
    (["1970-01-01", "25/11/1970"], "DD/MM/YYYY", (3, "birth_date")),
    (["11/25/1970", "01/02/1980"], "MM/DD/YYYY", (2, "birth_date")),
    (["01/02/1980", "03/04/1981"], "ambiguous", (2, "birth_date")),
    (["25/11/1970", "11/25/1970"], "mixed", (2, "birth_date")),
])
def test_slashed_pattern(cells, pattern, example):
    """A day above 12 says day-first, a month position above 12 month-first; otherwise we say we cannot tell."""
    found = slashed_pattern(_cols(birth_date=cells), [2, 3])
    assert found["pattern"] == pattern and found["example"] == example


def test_iso_dates_give_no_hint():
    """A file in our own format is checked as usual, with no hint."""
    assert slashed_pattern(_cols(birth_date=["1970-01-01", ""]), [2, 3]) is None


def test_hint_is_one_clear_message_without_the_date():
    """One error for the whole file that says what to do; a birth date is patient data, never echoed."""
    hint = slashed_dates_hint("patients.csv", "line", _cols(birth_date=["25/11/1970"] * 600), range(2, 602))
    assert hint == ("patients.csv, line 2, column 'birth_date': dates must be YYYY-MM-DD; this file looks like "
                    "DD/MM/YYYY (the first such date is here); re-save the dates as YYYY-MM-DD or pass "
                    "--date-format DD/MM/YYYY")
    assert "1970" not in hint


def test_ambiguous_hint_names_both_formats():
    """When no part is above 12 the user must choose: we never guess which is the day."""
    hint = slashed_dates_hint("a.csv", "row", _cols(scan_date=["01/02/2020"]), [5])
    assert "a.csv, row 5, column 'scan_date': dates" in hint and "--date-format DD/MM/YYYY or --date-format MM/DD/YYYY" in hint


def test_convert_dates_in_the_chosen_order():
    """An explicit format converts each date; one that does not fit is marked, not guessed."""
    iso, bad = convert_dates(pd.Series(["1/2/2026", "25/11/2026", "2026-01-01", "", "31/02/2026"], dtype="str"),
                             "DD/MM/YYYY")
    assert iso.tolist() == ["2026-02-01", "2026-11-25", "", "", ""]
    assert bad.tolist() == [False, False, True, False, True]
    iso, _ = convert_dates(pd.Series(["11/25/2026"], dtype="str"), "MM/DD/YYYY")
    assert iso.tolist() == ["2026-11-25"]


@pytest.mark.parametrize("value, text", [
    (None, ""), (7, "7"), (7.0, "7"), (0.812, "0.812"), (-2.5, "-2.5"), (True, "true"),
    ("007", "007"), (" Zoë ", "Zoë"),
    (pd.Timestamp("2026-11-25").to_pydatetime(), "2026-11-25"),
    (pd.Timestamp("2026-11-25").date(), "2026-11-25"),
])
def test_cell_text_is_what_a_csv_would_hold(value, text):
    """A workbook's cells go through the CSV checks as the text a CSV saved from them would hold."""
    assert cell_text(value) == text
