"""SQLite: a large import's buckets staged by worker processes and copied in the write
transaction store what one process stores, whether a record's new patient id is found by its
place among the bucket's new patients (one run of ids) or by looking its MRN up."""

from __future__ import annotations

import sqlite3
from datetime import date

import pandas as pd

from monitor import store
from monitor.config import STAFF_RISK_FACTORS
from monitor.services import import_stage, importing
from monitor.services.importing import import_files
from tests.conftest import DEMO

TODAY = date(2026, 11, 25)
TABLES = ("patient", "episode", "dxa_measurement", "mri_study", "pregnancy", "symptom", "assessment", "treatment")


def load(tmp_path, name: str, *, workers: int) -> dict:
    """The demo's first 40 patients imported, then every file (the others new, in several buckets)."""
    db = tmp_path / f"{name}.db"
    engine = store.make_engine(f"sqlite:///{db}")
    store.init_db(engine)
    first = tmp_path / "first" / "patients.csv"
    first.parent.mkdir(exist_ok=True)
    pd.read_csv(DEMO / "patients.csv", dtype=str, keep_default_na=False).head(40).to_csv(first, index=False)
    kw = dict(today=TODAY, actor="tester", risk_codes=STAFF_RISK_FACTORS, workers=workers, bucket_bytes=20_000)
    import_files(engine, [first], **kw)
    import_files(engine, sorted(DEMO.glob("*.csv")), **kw)
    engine.dispose()
    with sqlite3.connect(db) as conn:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in TABLES}


def test_staged_buckets_store_what_one_process_stores(tmp_path, monkeypatch):
    copies = []
    real = import_stage.copy_staged

    def spy(conn, table, staged, schema, *, first_id=None):
        took = real(conn, table, staged, schema, first_id=first_id)
        copies.append((table, first_id, took))
        return took
    monkeypatch.setattr(importing, "copy_staged", spy)
    alone = load(tmp_path, "alone", workers=1)
    assert not copies and all(alone.values())
    staged = load(tmp_path, "staged", workers=2)
    assert staged == alone
    assert any(table == "patient" and took for table, _, took in copies)  # new patients took one run
    assert any(table != "patient" and first for table, first, _ in copies)  # their records used it

    def by_mrn(conn, table, staged, schema, *, first_id=None):  # every new patient's id looked up
        real(conn, table, staged, schema)
    monkeypatch.setattr(importing, "copy_staged", by_mrn)
    assert load(tmp_path, "looked_up", workers=2) == alone
