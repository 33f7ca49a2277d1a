"""New rows are written in bulk (PostgreSQL: COPY text made a column at a time) exactly as given:
text with tabs, line ends and backslashes, empty text apart from no value, numbers, truth values."""

from datetime import date

import pytest
from sqlalchemy import text

from monitor.store import make_engine
from monitor.store.bulk_write import bulk_insert, bulk_update, copy_lines

NAMES = ["Larsen, Carl", "tab\there", "two\r\nlines\nand\rmore", "back\\slash \\N", "", None, "Ørsted 'quoted' \"x\""]


def test_copy_lines_escape_what_copy_reads_specially():
    assert copy_lines({"a": ["x\ty", None, "a\\b"], "b": [1, 2.5, None], "c": [True, False, None]}) == [
        "x\\ty\t1\tt", "\\N\t2.5\tf", "a\\\\b\t\\N\t\\N"]
    assert copy_lines({"a": [object()]}) is None  # another type: the driver's adapters write it


def test_bulk_insert_stores_values_exactly(db_url, monkeypatch):
    """Rows go in whole and in order, in parts too (PostgreSQL: COPY lines sent a part at a time)."""
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


def test_insert_rows_stores_what_sqlalchemy_would(db_url, monkeypatch):
    """insert_rows (the nightly run's reminders, events and flag keys) stores every value exactly
    as SQLAlchemy's own insert does (dates, times with a zone, none), in order, in batches, and
    skips a row whose unique columns are taken."""
    from datetime import date, datetime, timezone

    from monitor.store.bulk_write import insert_rows
    from monitor.store.tables import FlagSeen, Reminder

    monkeypatch.setattr("monitor.store.bulk_write.INSERT_BATCH", 2)
    engine = make_engine(db_url)
    at = datetime(2026, 11, 26, 21, 5, 7, 123456, tzinfo=timezone.utc)
    with engine.begin() as conn:
        bulk_insert(conn, "patient", {"mrn": ["A", "B"], "name": ["a", "b"], "sex": ["F", "F"],
                                      "birth_date": ["1980-01-01"] * 2, "status": ["active"] * 2,
                                      "risk_factors": ["", ""]})
        ids = [r[0] for r in conn.execute(text("SELECT id FROM patient ORDER BY id"))]
        conn.execute(Reminder.__table__.insert(), [{"patient_id": ids[0], "item": "dxa", "due_date": date(2027, 1, 2),
                                                    "created_at": at, "run_id": None}])
        insert_rows(conn, Reminder.__table__, {"patient_id": [ids[1], ids[0], ids[1]], "item": ["dxa"] * 3,
                                               "due_date": [date(2027, 1, 2), date(2028, 3, 4), date(2029, 5, 6)],
                                               "created_at": [at] * 3, "run_id": [None] * 3})
        seen = {"patient_id": [ids[0], ids[0], ids[1]], "code": ["c1", "c2", "c1"], "fingerprint": ["f"] * 3,
                "severity": ["warn", "urgent", "warn"], "first_seen_on": [date(2026, 11, 26)] * 3, "run_id": [None] * 3}
        insert_rows(conn, FlagSeen.__table__, seen, skip_conflicts_on=("patient_id", "code", "fingerprint"))
        again = {**seen, "severity": ["info"] * 3}
        insert_rows(conn, FlagSeen.__table__, again, skip_conflicts_on=("patient_id", "code", "fingerprint"))
        rows = conn.execute(text("SELECT patient_id, due_date, created_at FROM reminder ORDER BY id")).all()
        kept = conn.execute(text("SELECT severity FROM flag_seen ORDER BY id")).scalars().all()
    assert [r[0] for r in rows] == [ids[0], ids[1], ids[0], ids[1]]
    assert len({tuple(map(str, r[1:])) for r in rows[:2]}) == 1  # the same text/values as SQLAlchemy's insert
    assert [str(r[1])[:10] for r in rows] == ["2027-01-02", "2027-01-02", "2028-03-04", "2029-05-06"]
    assert kept == ["warn", "urgent", "warn"]  # the second insert's rows conflicted: skipped
    with engine.begin() as conn:
        insert_rows(conn, Reminder.__table__, {"patient_id": []})  # nothing to write
    engine.dispose()


@pytest.mark.parametrize("stage_rows", [1, 10**9])
def test_bulk_update_sets_each_rows_own_values(db_url, monkeypatch, stage_rows):
    """Changed rows get exactly their new values, whether they go through a staging table
    (PostgreSQL, many rows changing the same columns) or one prepared UPDATE; others stay."""
    monkeypatch.setattr("monitor.store.bulk_write.STAGE_ROWS", stage_rows)
    from monitor.store.tables import Patient

    engine = make_engine(db_url)
    n = len(NAMES)
    values = {"mrn": [f"M{i}" for i in range(n)], "name": ["x"] * n, "sex": ["F"] * n,
              "birth_date": ["1990-01-01"] * n, "status": ["active"] * n, "risk_factors": [""] * n}
    with engine.begin() as conn:
        bulk_insert(conn, "patient", values)
        ids = [r[0] for r in conn.execute(text("SELECT id FROM patient ORDER BY id"))]
        updates = [(row_id, {"name": name}) for row_id, name in zip(ids, NAMES)]
        updates[1] = (ids[1], {"name": "tab\there", "birth_date": date(1950, 2, 3), "postmenopausal": True})
        updates[2] = (ids[2], {"birth_date": date(1960, 12, 31), "name": "two\r\nlines\nand\rmore"})
        bulk_update(conn, Patient.__table__, updates[:-1])  # the last row keeps its values
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT name, birth_date, postmenopausal FROM patient ORDER BY id")).all()
    assert [r[0] for r in rows] == NAMES[:-1] + ["x"]
    assert [str(r[1]) for r in rows[:3]] == ["1990-01-01", "1950-02-03", "1960-12-31"]
    assert [None if r[2] is None else bool(r[2]) for r in rows[:3]] == [None, True, None]
    engine.dispose()
