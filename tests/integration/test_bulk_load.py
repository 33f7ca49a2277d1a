"""PostgreSQL: a table receiving many new rows is loaded without its foreign-key triggers, its
foreign keys added back and validated in the same transaction (monitor/store/bulk_load.py)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from monitor.config import STAFF_RISK_FACTORS
from monitor.services import importing
from monitor.services.importing import import_files
from tests.conftest import DEMO

TODAY = date(2026, 11, 25)
CHILDREN = ("assessment", "dxa_measurement", "episode", "mri_study", "pregnancy", "symptom", "treatment")


@pytest.fixture
def pg_engine(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("the bulk path is PostgreSQL's: SQLite copies staged rows with its own loop")
    return engine


def run(engine, **kw):
    return import_files(engine, sorted(DEMO.glob("*.csv")), today=TODAY, actor="tester",
                        risk_codes=STAFF_RISK_FACTORS, workers=1, **kw)


def every_row(engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {t: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY id"))]
                for t in ("patient", *CHILDREN)}


def patient_keys(engine) -> dict[str, tuple]:
    """Each child table's foreign keys: name -> (definition, validated)."""
    with engine.connect() as conn:
        return {r[0]: (r[1], r[2]) for r in conn.execute(text(
            "SELECT conname, pg_get_constraintdef(oid), convalidated FROM pg_constraint "
            "WHERE contype = 'f' AND conrelid = ANY(CAST(:tables AS regclass[]))"), {"tables": list(CHILDREN)})}


def empty(engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE patient, {', '.join(CHILDREN)}, audit_event RESTART IDENTITY CASCADE")


@pytest.fixture
def bulk_spy(monkeypatch):
    """BULK_ROWS set to one row, and the tables the import loaded in bulk recorded."""
    monkeypatch.setattr("monitor.store.bulk_load.BULK_ROWS", 1)
    chosen = []
    real = importing.bulk_tables

    def spy(conn, new_rows):
        chosen.append(real(conn, new_rows))
        return chosen[-1]
    monkeypatch.setattr(importing, "bulk_tables", spy)
    return chosen


@pytest.mark.parametrize("bucket_bytes", [None, 4_000])
def test_the_bulk_path_writes_the_same_rows_and_keeps_every_foreign_key(pg_engine, bulk_spy, monkeypatch,
                                                                       bucket_bytes):
    """A large import stores exactly what an ordinary one stores, and every record still has to
    belong to a patient afterwards (the constraint is back, and validated)."""
    keys = patient_keys(pg_engine)
    assert len(keys) == len(CHILDREN) and all(valid for _, valid in keys.values())
    monkeypatch.setattr("monitor.store.bulk_load.BULK_ROWS", 10**9)
    run(pg_engine, bucket_bytes=bucket_bytes)
    assert bulk_spy == [[]]
    ordinary = every_row(pg_engine)
    empty(pg_engine)
    monkeypatch.setattr("monitor.store.bulk_load.BULK_ROWS", 1)
    run(pg_engine, bucket_bytes=bucket_bytes)
    assert set(bulk_spy[-1]) >= {"patient", *CHILDREN}
    assert every_row(pg_engine) == ordinary and all(ordinary.values())
    assert patient_keys(pg_engine) == keys  # the same names and definitions, validated


def test_a_failure_on_the_bulk_path_leaves_the_foreign_keys_and_no_row(pg_engine, bulk_spy, monkeypatch):
    """A write that fails after the constraints were dropped rolls them back with the rows."""
    keys = patient_keys(pg_engine)
    real = importing.bulk_insert

    def failing(conn, table_name, values):
        real(conn, table_name, values)
        if table_name == "dxa_measurement":
            raise RuntimeError("the disk filled up")
    monkeypatch.setattr(importing, "bulk_insert", failing)
    with pytest.raises(RuntimeError, match="disk filled"):
        run(pg_engine)
    assert bulk_spy and bulk_spy[-1]
    assert not any(every_row(pg_engine).values())
    assert patient_keys(pg_engine) == keys


def test_a_record_without_its_patient_fails_the_set_based_check(pg_engine, bulk_spy, monkeypatch):
    """The check added back is a real one: a scan of no patient rejects the whole import."""
    from sqlalchemy.exc import IntegrityError

    keys = patient_keys(pg_engine)
    real = importing.bulk_insert

    def orphan(conn, table_name, values):
        if table_name == "dxa_measurement":
            values = {**values, "patient_id": [10**6] + values["patient_id"][1:]}
        real(conn, table_name, values)
    monkeypatch.setattr(importing, "bulk_insert", orphan)
    with pytest.raises(IntegrityError):
        run(pg_engine)
    assert not any(every_row(pg_engine).values())
    assert patient_keys(pg_engine) == keys

