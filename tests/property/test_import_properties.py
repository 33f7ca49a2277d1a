"""Properties of the importer over generated cohorts (ENGINEERING/STYLE: properties over examples).

`HYPOTHESIS_PROFILE=large` runs thousands of examples instead of a few hundred.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, note
from hypothesis import strategies as st

from monitor.cli import main
from monitor.config import STAFF_RISK_FACTORS, Config
from monitor.importing import CLINICAL_TABLES, import_files
from monitor.importspec import SPECS
from monitor.services import today_in
from monitor.store import init_db, make_engine
from tests.property.cohorts import cohorts, csv_text, layouts, write_files

TODAY = today_in(Config())  # what `monitor import` takes as today


@pytest.fixture(scope="module")
def empty_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "monitor.db"
    engine = make_engine(f"sqlite:///{path}")
    init_db(engine)
    engine.dispose()
    _checkpoint(path)
    return path


def _checkpoint(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def fresh_copy(template: Path, folder: Path) -> Path:
    db = folder / "monitor.db"
    shutil.copyfile(template, db)
    return db


def dump(db: Path) -> dict[str, list[tuple]]:
    """Every row of every clinical table, in id order."""
    with sqlite3.connect(db) as conn:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in CLINICAL_TABLES}


def file_hash(db: Path) -> str:
    _checkpoint(db)
    wal = Path(f"{db}-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    return hashlib.sha256(db.read_bytes()).hexdigest()


def run_import(db: Path, paths: list[Path]):
    engine = make_engine(f"sqlite:///{db}")
    try:
        return import_files(engine, paths, today=TODAY, actor="property", risk_codes=STAFF_RISK_FACTORS)
    finally:
        engine.dispose()


@given(data=st.data())
def test_importing_twice_equals_importing_once(empty_db, data):
    """Re-sending the same files (rows and columns in another order) must never change a patient's record."""
    cohort = data.draw(cohorts(TODAY), label="cohort")
    layout = data.draw(layouts(cohort), label="layout")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = fresh_copy(empty_db, folder)
        paths = write_files(folder, cohort, layout)
        first = run_import(db, paths)
        assert all(r.rejected == 0 and r.inserted == r.rows for r in first.files)
        once = dump(db)
        again = folder / "again"
        again.mkdir()
        shuffled = {k: data.draw(st.permutations(rows), label=f"{k} order") for k, rows in cohort.items()}
        reordered = {k: data.draw(st.permutations(cols), label=f"{k} columns") for k, cols in layout.items()}
        second = run_import(db, write_files(again, shuffled, reordered))
        assert [(r.inserted, r.updated, r.unchanged) for r in second.files] == [(0, 0, r.rows) for r in second.files]
        assert dump(db) == once


# One invalid cell per kind of mistake: (the columns it fits, a strategy of bad text).
FAR_FUTURE = (TODAY + timedelta(days=365 * 11)).isoformat()
BAD_CELLS = {
    "date": st.sampled_from(["2024-13-01", "25/11/2026", "2024-02-30", "0000-01-01", "1899-12-31", "0202-05-01",
                             "2024-1-5", "yesterday", "2999-01-01", FAR_FUTURE, "9999-12-31", "2024-01-01T10:00"]),
    "float": st.sampled_from(["abc", "nan", "inf", "-inf", "1,5", "1e999", "--1", "0x10"]),
    "bool": st.sampled_from(["maybe", "y", "n", "2", "ja", "-"]),
    "code": st.sampled_from(["unknown", "hip;knee", "l", "0"]),
    "codes": st.sampled_from(["vampirism", "smoking;unknown", "smoking,alcohol"]),
    "control": st.sampled_from(["a\x00b", "line\nbreak", "tab\there", "bell\x07", "del\x7f"]),
}
OUT_OF_RANGE = {"bmd": ["0.19", "2.01", "-1", "20"], "t_score": ["-7.5", "7.01", "100"], "z_score": ["-8", "8"],
                "calcium_mg_day": ["-1", "10001"], "vitamin_d_iu_day": ["-5", "100001"],
                "serum_25ohd_ng_ml": ["301", "-0.1"], "exercise_min_day": ["1441", "-1"],
                "alcohol_drinks_day": ["101", "-2"]}


def invalid_value(kind: str, column: str):
    col = SPECS[kind].col(column)
    if col.kind == "date":
        if col.future_limit is not None:  # a planned date may be in the future, within its limit
            return st.sampled_from(["2024-13-01", "0000-01-01", "2999-01-01", "25/11/2026"])
        return BAD_CELLS["date"]
    if col.kind == "float":
        return st.one_of(BAD_CELLS["float"], st.sampled_from(OUT_OF_RANGE[column]))
    if col.kind in ("bool", "code", "codes"):
        return BAD_CELLS[col.kind]
    if col.kind == "mrn":
        too_long = "M" * 65
        return st.sampled_from([too_long, "a\x00b", "line\nbreak"] + ([] if kind == "patients" else ["NOBODY-1"]))
    long_text = ["x" * 65] if column == "drug" else []
    return st.one_of(BAD_CELLS["control"], st.sampled_from(long_text or ["bell\x07"]))


@given(data=st.data())
def test_an_invalid_cell_is_rejected_where_it_is_and_nothing_is_written(empty_db, data):
    """One bad cell among valid rows: staff are told its file, line and column, and the database is untouched."""
    cohort = data.draw(cohorts(TODAY), label="cohort")
    layout = data.draw(layouts(cohort), label="layout")
    kinds = [k for k, rows in cohort.items() if rows]
    kind = data.draw(st.sampled_from(kinds), label="kind")
    column = data.draw(st.sampled_from([c for c in layout[kind] if not (kind == "patients" and c == "mrn")]),
                       label="column")
    row = data.draw(st.integers(0, len(cohort[kind]) - 1), label="row")
    bad = data.draw(invalid_value(kind, column), label="bad value")
    cohort[kind][row] = {**cohort[kind][row], column: bad}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = fresh_copy(empty_db, folder)
        if kind != "patients":  # the patients are stored already: the bad cell is judged against them
            assert run_import(db, write_files(folder, {"patients": cohort["patients"]}, layout))
        before = file_hash(db)
        paths = write_files(folder, {k: v for k, v in cohort.items() if k != "patients" or kind == "patients"}, layout)
        body = (folder / f"{kind}.csv").read_text()
        note(body)
        # The line the record starts on: 1 for the header, plus the lines of the rows before it.
        line = 2 + csv_text(cohort[kind][:row], layout[kind]).count("\n") - 1
        result = CliRunner().invoke(main, ["--db", f"sqlite:///{db}", "import", *map(str, paths)])
        assert result.exit_code == 2, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "Traceback" not in result.output
        assert result.stderr.startswith("Error: ")
        assert f"{kind}.csv, line {line}, column '{column}': " in result.stderr, result.stderr
        assert file_hash(db) == before
