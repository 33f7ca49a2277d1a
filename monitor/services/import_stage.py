"""SQLite: a worker writes each planned bucket's new rows into its own staging database file, so
the write transaction copies them with one `INSERT ... SELECT` per table (SQLite's own loop)
instead of binding every row from Python while it holds the write lock.

A staging table has no declared types, so each value is kept exactly as the driver was given it
and the real table's column applies its affinity on the copy exactly as on a direct insert. A
record of a patient new in this import has no patient id yet: its MRN goes with it, and the copy
looks the id up in the patients just written (the MRN is unique). Rows are copied in the order
they were planned, so ids are given in the same order as by a direct insert. Such a record also
carries its patient's place among the bucket's new patients (1, 2, ...): when the patients just
written took one run of ids, as SQLite gives them, the copy adds that place to the id before them
instead of looking each MRN up (a third of the copy's time).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

MRN = "mrn__"  # the staging column that names a new row's patient
ORD = "ord__"  # and its place among the bucket's new patients

_OPEN: dict[Path, sqlite3.Connection] = {}


def stage_file(spool: Path) -> Path:
    """This process's staging database in the spool folder."""
    return spool / f"stage-{os.getpid()}.db"


def stage_plans(spool: Path, bucket: int, plans) -> Path:
    """Write the plans' new rows (`values`) into this process's staging file; each plan then holds
    its staging table's name in `staged` instead of its values."""
    path = stage_file(spool)
    if path not in _OPEN:
        _OPEN[path] = sqlite3.connect(path, isolation_level=None)
        _OPEN[path].execute("PRAGMA journal_mode=OFF")  # a scratch file: no journal, no sync
        _OPEN[path].execute("PRAGMA synchronous=OFF")
    db = _OPEN[path]
    place = {}  # a new patient's MRN -> its place among the bucket's new patients
    for pl in plans:
        if pl.spec.kind == "patients" and pl.values is not None:
            place = {mrn: n for n, mrn in enumerate(pl.insert_mrns.tolist(), start=1)}
    db.execute("BEGIN")
    for index, pl in enumerate(plans):
        if pl.values is None or not len(pl.insert_mrns):
            continue
        name = f"b{bucket}_{index}"
        mrns = pl.insert_mrns.tolist()
        places = [None] * len(mrns)
        if "patient_id" in pl.values:
            places = [place.get(mrn) if pid is None else None for mrn, pid in zip(mrns, pl.values["patient_id"])]
        columns = [MRN, ORD, *pl.values]
        db.execute(f"DROP TABLE IF EXISTS {name}")
        db.execute(f"CREATE TABLE {name} ({', '.join(columns)})")
        db.executemany(f"INSERT INTO {name} VALUES ({', '.join(['?'] * len(columns))})",
                       zip(mrns, places, *pl.values.values()))
        pl.staged, pl.values = (name, list(pl.values)), None
    db.execute("COMMIT")
    return path


def copy_staged(conn, table: str, staged: tuple[str, list[str]], schema: str, *, first_id: int | None = None) -> int | None:
    """Copy one staged table into `table` (inside the caller's write transaction). A record of a
    new patient takes `first_id` + its place - 1 as its patient id when `first_id` is given (the
    bucket's new patients took one run of ids from it), else the id of its MRN. Copying patients
    returns the first id they took when they took one run of ids (else None)."""
    name, columns = staged
    lookup = f"(SELECT p.id FROM main.patient p WHERE p.mrn = s.{MRN})"
    new_id = lookup if first_id is None else f"{int(first_id) - 1} + s.{ORD}"
    chosen = [f"coalesce(s.patient_id, {new_id})" if c == "patient_id" else f"s.{c}" for c in columns]
    before = None
    if table == "patient":
        before = conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM main.patient").scalar()
    conn.exec_driver_sql(f"INSERT INTO main.{table} ({', '.join(columns)}) "
                         f"SELECT {', '.join(chosen)} FROM {schema}.{name} s ORDER BY s.rowid")
    if before is None:
        return None
    staged_rows = conn.exec_driver_sql(f"SELECT count(*) FROM {schema}.{name}").scalar()
    count, low, high = conn.exec_driver_sql("SELECT count(*), min(id), max(id) FROM main.patient WHERE id > ?",
                                            (before,)).one()
    one_run = count == staged_rows and low == before + 1 and high == before + staged_rows
    return before + 1 if one_run and staged_rows else None
