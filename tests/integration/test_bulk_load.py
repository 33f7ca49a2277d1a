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
        pytest.skip("the bulk path is PostgreSQL's only")
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


@pytest.mark.parametrize("bucket_bytes", [None, 20_000])  # 20 kB: a dozen buckets of scans
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
    real = importing.copy_lines_in

    def failing(conn, table_name, columns, lines, *, first=None):
        real(conn, table_name, columns, lines, first=first)
        if table_name == "dxa_measurement":
            raise RuntimeError("the disk filled up")
    monkeypatch.setattr(importing, "copy_lines_in", failing)
    with pytest.raises(RuntimeError, match="disk filled"):
        run(pg_engine)
    assert bulk_spy and bulk_spy[-1]
    assert not any(every_row(pg_engine).values())
    assert patient_keys(pg_engine) == keys


def test_a_record_without_its_patient_fails_the_set_based_check(pg_engine, bulk_spy, monkeypatch):
    """The check added back is a real one: a scan of no patient rejects the whole import."""
    from sqlalchemy.exc import IntegrityError

    keys = patient_keys(pg_engine)
    real = importing.copy_lines_in

    def orphan(conn, table_name, columns, lines, *, first=None):
        if table_name == "dxa_measurement":
            first = [10**6] + first[1:]
        real(conn, table_name, columns, lines, first=first)
    monkeypatch.setattr(importing, "copy_lines_in", orphan)
    with pytest.raises(IntegrityError):
        run(pg_engine)
    assert not any(every_row(pg_engine).values())
    assert patient_keys(pg_engine) == keys


def test_copy_lines_made_as_planned_store_what_the_values_store(pg_engine, tmp_path, monkeypatch):
    """PostgreSQL: the new rows made into COPY lines where they are planned (an import's workers)
    store exactly what the driver's values store, text that needs COPY's escape included (a
    backslash: an import refuses tabs and line breaks), a blank as none, numbers to the last digit."""
    import pandas as pd

    patients = tmp_path / "patients.csv"
    frame = pd.read_csv(DEMO / "patients.csv", dtype=str, keep_default_na=False)
    frame.loc[0, "name"] = "Back\\slash"
    frame.loc[1, "name"] = "Ends \\N\\"
    frame.to_csv(patients, index=False)
    files = [patients, *sorted(p for p in DEMO.glob("*.csv") if p.name != "patients.csv")]

    def load():
        import_files(pg_engine, files, today=TODAY, actor="tester", risk_codes=STAFF_RISK_FACTORS, workers=1)
        rows = every_row(pg_engine)
        empty(pg_engine)
        return rows
    made = []
    real = importing.copy_lines_in

    def spy(conn, table_name, columns, lines, *, first=None):
        made.append(table_name)
        real(conn, table_name, columns, lines, first=first)
    monkeypatch.setattr(importing, "copy_lines_in", spy)
    empty(pg_engine)
    as_lines = load()
    assert {"patient", *CHILDREN} <= set(made)
    monkeypatch.setattr("monitor.services.import_prepare._as_copy_lines", lambda pl: None)
    made.clear()
    as_values = load()
    assert not made
    assert as_lines == as_values and all(as_values.values())
    with_escapes = [row for row in as_lines["patient"] if "Back\\slash" in row or "Ends \\N\\" in row]
    assert len(with_escapes) == 2


def changed_files(folder):
    """The demo's patients and scans, every scan's value and every patient's phone changed (and
    some t-scores and languages emptied: a blank keeps the stored value)."""
    import pandas as pd

    scans = pd.read_csv(DEMO / "scans.csv", dtype=str, keep_default_na=False)
    scans["bmd"] = (scans["bmd"].astype(float) + 0.001).map("{:.3f}".format)
    scans.loc[::3, "t_score"] = ""
    patients = pd.read_csv(DEMO / "patients.csv", dtype=str, keep_default_na=False)
    patients["phone"] = "+44 7700 900" + patients.index.astype(str).str.zfill(3)
    patients.loc[::2, "language"] = "fr"
    scans.to_csv(folder / "scans.csv", index=False)
    patients.to_csv(folder / "patients.csv", index=False)
    return [folder / "patients.csv", folder / "scans.csv"]


def test_a_reimport_through_staging_tables_updates_the_same_rows(engine, tmp_path, monkeypatch):
    """Changed rows written through staging tables (PostgreSQL) read back exactly as when each row
    is updated by the one prepared statement."""
    from monitor.store import bulk_write

    staged, real = [], bulk_write.bulk_insert

    def spy(conn, table_name, values):
        staged.append(table_name)
        real(conn, table_name, values)
    monkeypatch.setattr(bulk_write, "bulk_insert", spy)
    results = []
    for stage_rows in (10**9, 1):
        monkeypatch.setattr(bulk_write, "STAGE_ROWS", stage_rows)
        with engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM audit_event")
            for table in (*CHILDREN, "patient"):
                conn.exec_driver_sql(f"DELETE FROM {table}")
        run(engine)
        report = import_files(engine, changed_files(tmp_path), today=TODAY, actor="tester",
                              risk_codes=STAFF_RISK_FACTORS, workers=1)
        assert all(r.updated for r in report.files)
        with engine.connect() as conn:
            results.append(([tuple(r) for r in conn.execute(text(
                "SELECT p.mrn, p.phone, p.language, d.scan_date, d.site, d.side, d.bmd_g_cm2, d.t_score "
                "FROM dxa_measurement d JOIN patient p ON p.id = d.patient_id "
                "ORDER BY p.mrn, d.scan_date, d.site, d.side"))], [r.updated for r in report.files]))
    assert results[0] == results[1]
    if engine.dialect.name == "postgresql":
        assert {"staged_patient", "staged_dxa_measurement"} <= set(staged)
