"""The few queries that load a whole cohort: one per table, never one per patient."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from monitor.rules.cohort import COLUMNS, Cohort, coerce_frame


# frame kind -> (table, {frame column: table column})
TABLES: dict[str, tuple[str, dict[str, str]]] = {
    "patients": ("patient", {"patient_id": "id"}),
    "episodes": ("episode", {}),
    "scans": ("dxa_measurement", {}),
    "mri": ("mri_study", {}),
    "pregnancies": ("pregnancy", {}),
    "symptoms": ("symptom", {}),
    "assessments": ("assessment", {}),
    "treatments": ("treatment", {}),
}
# Records marked wrong (models.Retraction): kept, but no cohort frame holds them.
RETRACTION_TABLE = "retraction"


def _code_vocabularies() -> dict[str, dict[str, tuple[str, ...]]]:
    """Per frame kind, the text columns whose values come from a fixed vocabulary."""
    from monitor.rules.vocabulary import (
        COMPLAINTS,
        JOINTS,
        REPORTED_AS,
        SCANNERS,
        SIDES,
        SITES,
    )

    sides = (*SIDES, "")
    return {
        "scans": {"scanner": SCANNERS, "site": SITES, "side": sides},
        "episodes": {"joint": JOINTS, "side": SIDES},
        "mri": {"joint": JOINTS, "side": SIDES, "reported_as": REPORTED_AS},
        "symptoms": {"complaint": COMPLAINTS, "side": sides},
        "pregnancies": {},
        "assessments": {},
    }


def _read_numeric_sqlite(conn: Connection, kind: str, table: str, where: str, params: tuple) -> pd.DataFrame | None:
    """A table whose every column is a number, a date or a code, read as numbers in one array.

    SQLite hands Python a new str object per text cell, and pandas then converts each one;
    days since 1970 and small code numbers are cheaper on both sides (the read of 1.4 million
    DXA values drops from 3.4 s to about 2 s). None when a value falls outside its vocabulary.
    """
    vocab = _code_vocabularies().get(kind)
    if vocab is None:
        return None
    spec = COLUMNS[kind]
    parts = []
    for column, ctype in spec.items():
        if ctype == "date":
            parts.append(f"CAST(julianday({column}) - 2440587.5 AS INTEGER)")
        elif ctype == "text":
            cases = " ".join(f"WHEN '{value}' THEN {i}" for i, value in enumerate(vocab[column]))
            parts.append(f"CASE WHEN {column} IS NULL THEN -2 ELSE (CASE {column} {cases} ELSE -1 END) END")
        else:
            parts.append(column)
    rows = conn.exec_driver_sql(f"SELECT {', '.join(parts)} FROM {table}{where}", params).cursor.fetchall()
    values = np.array(rows, dtype=np.float64).reshape(len(rows), len(spec))
    del rows
    out = {}
    for i, (column, ctype) in enumerate(spec.items()):
        col = values[:, i]
        missing = np.isnan(col)
        if ctype == "id":
            out[column] = col.astype("int64")
        elif ctype == "float":
            out[column] = col
        elif ctype == "bool":
            out[column] = pd.arrays.BooleanArray(np.nan_to_num(col).astype(bool), missing)
        elif ctype == "date":
            days = np.where(missing, 0, col).astype("int64").astype("datetime64[D]").astype("datetime64[us]")
            days[missing] = np.datetime64("NaT")
            out[column] = days
        else:
            codes = col.astype("int64")
            if (codes == -1).any():
                return None
            words = pd.array([*vocab[column], ""], dtype="str")  # -2 (NULL) -> "" via index -1
            out[column] = pd.Series(words).take(np.where(codes == -2, len(words) - 1, codes)).reset_index(drop=True)
    return pd.DataFrame(out)


def read_table(conn: Connection, kind: str, *, patient_id: int | None = None,
               id_range: tuple[int, int] | None = None, numeric: bool = True) -> pd.DataFrame:
    """One cohort frame, read in one query (all patients, one, or the patient ids `lo..hi` of
    `id_range`), without retracted records.

    `numeric=False` skips SQLite's numbers-and-codes read (the tests compare the two)."""
    table, renames = TABLES[kind]
    columns = list(COLUMNS[kind])
    select_list = ", ".join(
        f"{renames[c]} AS {c}" if c in renames else c for c in columns
    )
    conditions = []
    params: tuple = ()
    if patient_id is not None:
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        conditions.append(f"{'id' if kind == 'patients' else 'patient_id'} = {mark}")
        params = (patient_id,)
    elif id_range is not None:
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        conditions.append(f"{'id' if kind == 'patients' else 'patient_id'} BETWEEN {mark} AND {mark}")
        params = (int(id_range[0]), int(id_range[1]))
    if kind != "patients":
        # One uncorrelated subquery: the database builds the set of retracted ids once.
        conditions.append(f"id NOT IN (SELECT record_id FROM {RETRACTION_TABLE} "
                          f"WHERE table_name = '{table}' AND restored_at IS NULL)")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    if numeric and conn.dialect.name == "sqlite":
        frame = _read_numeric_sqlite(conn, kind, table, where, params)
        if frame is not None:
            return coerce_frame(kind, frame)
    # The driver's own rows: SQLAlchemy's row objects would double the cost of the read.
    rows = conn.exec_driver_sql(f"SELECT {select_list} FROM {table}{where}", params).cursor.fetchall()
    frame = pd.DataFrame.from_records(rows, columns=columns) if rows else pd.DataFrame(columns=columns)
    del rows
    if len(frame):
        for column, ctype in COLUMNS[kind].items():
            if ctype == "date":
                frame[column] = pd.to_datetime(frame[column], format="ISO8601")
            elif ctype == "bool":
                frame[column] = frame[column].astype("boolean")
    return coerce_frame(kind, frame)


def patient_id_ranges(conn: Connection, size: int) -> list[tuple[int, int]]:
    """The patient ids in consecutive ranges of `size` patients each (0: one range for all);
    streamed from the primary key, so only the ranges' ends are kept."""
    cursor = conn.exec_driver_sql("SELECT id FROM patient ORDER BY id").cursor
    ranges, first, last, count = [], None, None, 0
    while rows := cursor.fetchmany(10000):
        for (pid,) in rows:
            if first is None:
                first = pid
            last, count = pid, count + 1
            if size and count == size:
                ranges.append((int(first), int(last)))
                first, count = None, 0
    if first is not None:
        ranges.append((int(first), int(last)))
    return ranges


def load_cohort_part(conn: Connection, id_range: tuple[int, int]) -> Cohort:
    """The recorded history of the patients whose ids fall in `id_range`, one query per table."""
    # read_table coerces each frame: Cohort.from_frames would coerce (copy) every column again.
    return Cohort(**{kind: read_table(conn, kind, id_range=id_range) for kind in TABLES})


def has_acknowledgements_table(conn: Connection) -> bool:
    """Whether the database has the acknowledgements table (a database before version 2 has not)."""
    from sqlalchemy import inspect

    return inspect(conn).has_table("flag_acknowledgement")


def load_acknowledgements_part(conn: Connection, id_range: tuple[int, int], *, has_table: bool = True) -> pd.DataFrame:
    """The flag acknowledgements of the patients whose ids fall in `id_range`, oldest first
    (as services.acknowledgements.load_acknowledgements reads them for everyone); none without
    the table (`has_table`, checked once per pass by has_acknowledgements_table)."""
    from sqlalchemy import select

    from monitor.rules.acknowledgements import ACK_COLUMNS
    from monitor.store.core_tables import flag_acknowledgement as table  # no SQLModel: every list reads this

    if not has_table:
        return pd.DataFrame(columns=ACK_COLUMNS)
    query = (select(*[table.c[c] for c in ACK_COLUMNS])
             .where(table.c.patient_id.between(int(id_range[0]), int(id_range[1])))
             .order_by(table.c.acknowledged_at, table.c.id))
    return pd.DataFrame([tuple(r) for r in conn.execute(query)], columns=ACK_COLUMNS)


def load_cohort(engine: Engine, kinds: tuple[str, ...] | None = None) -> Cohort:
    """The whole recorded history but retracted records, one query per table (never one per patient)."""
    from monitor.store.engine import reading
    from monitor.store.schema import require_initialised

    require_initialised(engine)
    frames = {}
    with reading(engine) as conn:
        for kind in kinds or tuple(TABLES):
            frames[kind] = read_table(conn, kind)
    return Cohort.from_frames(**frames)
