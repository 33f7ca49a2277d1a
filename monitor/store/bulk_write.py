"""Writing many new rows at once: PostgreSQL's COPY, or the driver's executemany elsewhere."""

from __future__ import annotations

import numpy as np
import pandas as pd

PLAIN_TYPES = {str, int, float, bool, type(None)}
COPY_BYTES = 8 * 2**20  # of COPY text sent at a time


def bulk_insert(conn, table_name: str, values: dict[str, list]) -> None:
    """Insert the rows (column -> values, in order) inside the caller's transaction.

    On PostgreSQL the rows stream through `COPY ... FROM STDIN` (one round trip, no per-row
    statement), as text made a column at a time; elsewhere one prepared INSERT runs over plain tuples."""
    columns = list(values)
    if not columns:
        return
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection  # the psycopg connection of this transaction
        with raw.cursor() as cursor:
            with cursor.copy(f"COPY {table_name} ({', '.join(columns)}) FROM STDIN") as copy:
                text = copy_text(values)
                if text is None:  # a value of another type: psycopg's adapters write it
                    for row in zip(*values.values()):
                        copy.write_row(row)
                    return
                data = text.encode("utf-8")
                for start in range(0, len(data), COPY_BYTES):
                    copy.write(data[start:start + COPY_BYTES])
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO {table_name} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    conn.exec_driver_sql(sql, list(zip(*values.values())))


def copy_text(values: dict[str, list]) -> str | None:
    """The rows in COPY's text format (tab between values, \\N for none, backslash escapes), or
    None when a column holds a value that is not text, a number, a truth value or none."""
    fields = []
    for column in values.values():
        if not set(map(type, column)) <= PLAIN_TYPES:
            return None
        fields.append(_copy_field(column))
    if not len(fields[0]):
        return ""
    return "\n".join(fields[0].str.cat(fields[1:], sep="\t") if len(fields) > 1 else fields[0]) + "\n"


def _copy_field(column: list) -> pd.Series:
    values = pd.Series(column, dtype="object")
    none = values.isna().to_numpy()  # (None; a float NaN is no value either)
    kinds = set(map(type, column)) - {type(None)}
    if kinds == {bool}:
        text = values.map({True: "t", False: "f"}, na_action="ignore")
    else:
        text = values.astype(str)  # an int or float as Python writes it: exactly, shortest
        if str in kinds:
            for char, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
                if text.str.contains(char, regex=False).any():
                    text = text.str.replace(char, escaped, regex=False)
    out = np.array(text.astype("object").to_numpy(), dtype=object)  # (a writable copy)
    out[none] = "\\N"
    return pd.Series(out, dtype="object")
