"""Files that leave the system: spreadsheet-safe cells and safe names."""

import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from monitor.formats.files import frame_csv_bytes, neutralise, safe_name


@pytest.mark.parametrize("cell, expected", [
    ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"), ("+1", "+1"), ("-2.0", "-2.0"), ("-2+3", "'-2+3"),
    ("+1)", "'+1)"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("TOH-1", "TOH-1"), ("", ""), (None, ""),
])
def test_formula_cells_are_neutralised(cell, expected):
    """A cell a spreadsheet would run as a formula is shown as text instead (OWASP CSV injection)."""
    assert neutralise(cell) == expected


def test_frame_csv_bytes_quotes_and_neutralises():
    """Commas, quotes and line breaks are quoted; formulas neutralised; missing values empty; a BOM for Excel."""
    frame = pd.DataFrame({"mrn": ["A1", "=cmd", None], "note": ['say "hi"', "a,b", "two\nlines"], "n": [1, 2, 3]})
    assert frame_csv_bytes(frame) == (b'\xef\xbb\xbfmrn,note,n\r\nA1,"say ""hi""",1\r\n\'=cmd,"a,b",2\r\n,"two\nlines",3\r\n')


@pytest.mark.parametrize("part, expected", [
    ("TOH-000042", "TOH-000042"), ("../../etc/passwd", "etc_passwd"), ("A/1", "A_1"), ("...", "x"),
    ("Ünïcode 7", "n_code_7"),
])
def test_safe_name(part, expected):
    """File names from MRNs hold only letters, digits, - and _: no path can be smuggled in."""
    assert safe_name(part) == expected


def test_xlsx_cells_are_never_formulas(tmp_path):
    """A name like =HYPERLINK(...) is a text cell in the workbook: Excel shows it, never runs it."""
    import io

    import openpyxl
    import pandas as pd

    from monitor.formats.xlsx_write import frame_xlsx_bytes

    frame = pd.DataFrame({"mrn": ["007", "=1+1"], "name": ['=HYPERLINK("x")', "@SUM(A1)"],
                          "due_date": ["2026-01-02", ""], "days_overdue": [3, 4]})
    data = frame_xlsx_bytes(frame)
    assert data == frame_xlsx_bytes(frame)  # repeatable bytes
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    cells = [[c.data_type for c in row] for row in ws.iter_rows(min_row=2)]
    assert cells == [["s", "s", "d", "n"], ["s", "s", "n", "n"]]  # text, text, date (or empty), number
    assert [c.value for c in ws[2]][:2] == ["007", '=HYPERLINK("x")']
    assert ws["C3"].value is None and ws.freeze_panes == "A2"


def test_frame_csv_text_for_a_terminal_has_no_bom():
    """Text printed to a terminal or a pipe must not start with an invisible byte order mark."""
    assert frame_csv_bytes(pd.DataFrame({"mrn": ["A1"]}), bom=False) == b"mrn\r\nA1\r\n"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), st.sampled_from(["=1+2", "-2.0", "+x", "@a", "\tq", "\rr", "-", "1e-3", "TOH-1", "", "ok"]),
                                    st.text(max_size=6)),
                          st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False, width=32)),
                          st.integers(-50, 50)), max_size=25))
def test_frame_csv_bytes_neutralises_each_cell_as_neutralise_does(rows):
    """The vectorised CSV writer gives the bytes of `neutralise` applied to every cell, text
    columns stored as Arrow strings or as objects alike, numbers and blanks too."""
    texts = [r[0] for r in rows]
    frame = pd.DataFrame({"=text": pd.Series(texts, dtype="object"), "arrow": pd.Series(texts, dtype="str"),
                          "x": pd.Series([r[1] for r in rows], dtype="float64"),
                          "n": pd.Series([r[2] for r in rows], dtype="int64")})
    expected = pd.DataFrame({neutralise(c): [neutralise(None if pd.isna(v) else v) for v in frame[c].astype("object")]
                             for c in frame.columns})
    assert frame_csv_bytes(frame) == expected.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")
