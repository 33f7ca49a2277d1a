"""SQLite: a worker writes each planned bucket's new rows into its own staging database file, so
the write transaction copies them with one `INSERT ... SELECT` per table (SQLite's own loop)
instead of binding every row from Python while it holds the write lock.

A staging table has no declared types, so each value is kept exactly as the driver was given it
and the real table's column applies its affinity on the copy exactly as on a direct insert. A
record of a patient new in this import has no patient id yet: its MRN goes with it, and the copy
looks the id up in the patients just written (the MRN is unique). Rows are copied in the order
they were planned, so ids are given in the same order as by a direct insert.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

MRN = "mrn__"  # the staging column that names a new row's patient

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
    db.execute("BEGIN")
    for index, pl in enumerate(plans):
        if pl.values is None or not len(pl.insert_mrns):
            continue
        name = f"b{bucket}_{index}"
        columns = [MRN, *pl.values]
        db.execute(f"DROP TABLE IF EXISTS {name}")
        db.execute(f"CREATE TABLE {name} ({', '.join(columns)})")
        db.executemany(f"INSERT INTO {name} VALUES ({', '.join(['?'] * len(columns))})",
                       zip(pl.insert_mrns.tolist(), *pl.values.values()))
        pl.staged, pl.values = (name, list(pl.values)), None
    db.execute("COMMIT")
    return path


def copy_staged(conn, table: str, staged: tuple[str, list[str]], schema: str) -> None:
    """Copy one staged table into `table` (inside the caller's write transaction)."""
    name, columns = staged
    chosen = [f"coalesce(s.patient_id, (SELECT p.id FROM main.patient p WHERE p.mrn = s.{MRN}))"
              if c == "patient_id" else f"s.{c}" for c in columns]
    conn.exec_driver_sql(f"INSERT INTO main.{table} ({', '.join(columns)}) "
                         f"SELECT {', '.join(chosen)} FROM {schema}.{name} s ORDER BY s.rowid")
