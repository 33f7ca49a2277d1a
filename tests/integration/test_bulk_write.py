"""New rows are written in bulk (PostgreSQL: COPY text made a column at a time) exactly as given:
text with tabs, line ends and backslashes, empty text apart from no value, numbers, truth values."""

from sqlalchemy import text

from monitor.store import make_engine
from monitor.store.bulk_write import bulk_insert, copy_text

NAMES = ["Larsen, Carl", "tab\there", "two\r\nlines\nand\rmore", "back\\slash \\N", "", None, "Ørsted 'quoted' \"x\""]


def test_copy_text_escapes_what_copy_reads_specially():
    assert copy_text({"a": ["x\ty", None, "a\\b"], "b": [1, 2.5, None], "c": [True, False, None]}) == (
        "x\\ty\t1\tt\n\\N\t2.5\tf\na\\\\b\t\\N\t\\N\n")
    assert copy_text({"a": [object()]}) is None  # another type: the driver's adapters write it


def test_bulk_insert_stores_values_exactly(db_url, monkeypatch):
    """Rows go in whole and in order, in parts too (PostgreSQL: each part's COPY text made while
    the one before is sent)."""
    monkeypatch.setattr("monitor.store.bulk_write.COPY_ROWS", 3)
    engine = make_engine(db_url)
    n = len(NAMES)
    values = {"mrn": [f"M{i}" for i in range(n)], "name": NAMES, "sex": ["F"] * n,
              "birth_date": ["1990-01-0" + str(i + 1) for i in range(n)], "status": ["active"] * n,
              "postmenopausal": [True, False, None] + [None] * (n - 3), "risk_factors": [""] * n}
    with engine.begin() as conn:
        bulk_insert(conn, "patient", values)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT mrn, name, postmenopausal, risk_factors FROM patient ORDER BY id")).all()
    assert [r[0] for r in rows] == values["mrn"]
    assert [r[1] for r in rows] == NAMES
    assert [None if r[2] is None else bool(r[2]) for r in rows] == values["postmenopausal"]
    assert all(r[3] == "" for r in rows)
    engine.dispose()
