"""Writing many new rows at once: PostgreSQL's COPY, or the driver's executemany elsewhere."""

from __future__ import annotations

import pandas as pd
from sqlalchemy.exc import DBAPIError

COPY_BYTES = 8 * 2**20  # of COPY text sent at a time


def bulk_insert(conn, table_name: str, values: dict[str, list]) -> None:
    """Insert the rows (column -> values, in order) inside the caller's transaction.

    On PostgreSQL the rows stream through `COPY ... FROM STDIN` (one round trip, no per-row
    statement), as text made a column at a time; elsewhere one prepared INSERT runs over the rows."""
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
    dbapi = conn.dialect.loaded_dbapi
    cursor = conn.connection.driver_connection.cursor()  # rows from an iterator: zip reuses its tuple
    try:
        cursor.executemany(sql, zip(*values.values()))
    except dbapi.Error as exc:  # as SQLAlchemy raises it (the CLI names its kind, never its values)
        raise DBAPIError.instance(sql, None, exc, dbapi.Error, hide_parameters=True,
                                  dialect=conn.dialect) from None
    finally:
        cursor.close()


def copy_text(values: dict[str, list]) -> str | None:
    """The rows in COPY's text format (tab between values, \\N for none, backslash escapes), or
    None when a column holds a value that is not text, a number, a truth value or none."""
    fields = []
    for column in values.values():
        kinds = set(map(type, column)) - {type(None)}
        if not (kinds <= {int, float} or kinds == {str} or kinds == {bool}):
            return None
        fields.append(_copy_field(column, kinds))
    if not fields[0]:
        return ""
    return "\n".join(map("\t".join, zip(*fields))) + "\n"


ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"))  # backslash first


def _copy_field(column: list, kinds: set) -> list[str]:
    if kinds == {str}:
        given = "".join(v for v in column if v is not None)
        if any(char in given for char, _ in ESCAPES):
            text = pd.Series(column, dtype="object")
            for char, escaped in ESCAPES:
                text = text.str.replace(char, escaped, regex=False)
            column = text.tolist()
        return [v if isinstance(v, str) else NONE for v in column]  # (pandas made a None NaN)
    if kinds == {bool}:
        return [NONE if v is None else ("t" if v else "f") for v in column]
    # an int or float as Python writes it (exactly, shortest); a float NaN is no value either
    return [NONE if v is None or v != v else repr(v) for v in column]


NONE = "\\N"
