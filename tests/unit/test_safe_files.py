"""Files that leave the system: spreadsheet-safe cells and safe names."""

import pandas as pd
import pytest

from monitor.safe_files import frame_csv_bytes, neutralise, safe_name


@pytest.mark.parametrize("cell, expected", [
    ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"), ("+1", "+1"), ("-2.0", "-2.0"), ("-2+3", "'-2+3"),
    ("+1)", "'+1)"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("TOH-1", "TOH-1"), ("", ""), (None, ""),
])
def test_formula_cells_are_neutralised(cell, expected):
    """A cell a spreadsheet would run as a formula is shown as text instead (OWASP CSV injection)."""
    assert neutralise(cell) == expected


def test_frame_csv_bytes_quotes_and_neutralises():
    """Commas, quotes and line breaks are quoted; formulas neutralised; missing values empty."""
    frame = pd.DataFrame({"mrn": ["A1", "=cmd", None], "note": ['say "hi"', "a,b", "two\nlines"], "n": [1, 2, 3]})
    assert frame_csv_bytes(frame) == (b'mrn,note,n\r\nA1,"say ""hi""",1\r\n\'=cmd,"a,b",2\r\n,"two\nlines",3\r\n')


@pytest.mark.parametrize("part, expected", [
    ("TOH-000042", "TOH-000042"), ("../../etc/passwd", "etc_passwd"), ("A/1", "A_1"), ("...", "x"),
    ("Ünïcode 7", "n_code_7"),
])
def test_safe_name(part, expected):
    """File names from MRNs hold only letters, digits, - and _: no path can be smuggled in."""
    assert safe_name(part) == expected
