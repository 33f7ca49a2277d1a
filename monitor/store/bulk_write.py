"""Writing many rows at once: new rows by PostgreSQL's COPY (or the driver's executemany elsewhere), changed rows by a staging table or one prepared UPDATE."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import bindparam
from sqlalchemy.exc import DBAPIError

COPY_ROWS = 20_000  # made into COPY text and sent at a time


def bulk_insert(conn, table_name: str, values: dict[str, list]) -> None:
    """Insert the rows (column -> values, in order) inside the caller's transaction.

    On PostgreSQL the rows stream through `COPY ... FROM STDIN` (one round trip, no per-row
    statement) as text made a column at a time (`copy_lines`, sent by `copy_lines_in`); elsewhere
    one prepared INSERT runs over the rows."""
    columns = list(values)
    if not columns:
        return
    if conn.dialect.name == "postgresql":
        lines = copy_lines(values)
        if lines is not None:
            copy_lines_in(conn, table_name, columns, lines)
            return
        raw = conn.connection.driver_connection  # a value of another type: psycopg's adapters write it
        with raw.cursor() as cursor, cursor.copy(f"COPY {table_name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in zip(*values.values()):
                copy.write_row(row)
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO {table_name} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    driver_executemany(conn, sql, zip(*values.values()))


def driver_executemany(conn, sql: str, rows) -> None:
    """One prepared statement over the rows (an iterator is fine) on the driver's own cursor, in the
    caller's transaction; a driver error raised as SQLAlchemy raises it (the CLI names its kind,
    never its values)."""
    dbapi = conn.dialect.loaded_dbapi
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.executemany(sql, rows)
    except dbapi.Error as exc:
        raise DBAPIError.instance(sql, None, exc, dbapi.Error, hide_parameters=True,
                                  dialect=conn.dialect) from None
    finally:
        cursor.close()


INSERT_BATCH = 10_000  # rows per statement where SQLAlchemy runs the insert


def insert_rows(conn, table, values: dict[str, list], *, skip_conflicts_on: tuple[str, ...] = ()) -> None:
    """Insert the rows (column -> values, in order) into `table` (a Core Table) in the caller's
    transaction; a row that conflicts on the unique columns `skip_conflicts_on` is skipped.

    On SQLite one prepared statement runs over the rows through the driver, each value first made
    what SQLAlchemy would store (the columns' own bind processors: the same text for a date or a
    time): SQLAlchemy's per-row parameter handling cost several times the insert itself. Elsewhere
    SQLAlchemy's executemany, a batch at a time."""
    columns = list(values)
    rows = len(values[columns[0]]) if columns else 0
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        statement = table.insert()
        if skip_conflicts_on:
            from sqlalchemy.dialects.postgresql import insert

            statement = insert(table).on_conflict_do_nothing(index_elements=list(skip_conflicts_on))
        for start in range(0, rows, INSERT_BATCH):
            part = [dict(zip(columns, row)) for row in zip(*(v[start:start + INSERT_BATCH] for v in values.values()))]
            conn.execute(statement, part)
        return
    converted = []
    for name, column in values.items():
        process = table.c[name].type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        if process is None:
            converted.append(column)
        elif column.count(column[0]) == len(column):  # one value for every row (a run's time, its id)
            converted.append([None if column[0] is None else process(column[0])] * len(column))
        else:
            converted.append([None if v is None else process(v) for v in column])
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    if skip_conflicts_on:
        sql += f" ON CONFLICT ({', '.join(skip_conflicts_on)}) DO NOTHING"
    driver_executemany(conn, sql, zip(*converted))


def copy_lines(values: dict[str, list]) -> list[str] | None:
    """Each row as a line of COPY's text format without its newline (tab between values, \\N for
    none, backslash escapes), or None when a column holds a value that is not text, a number, a
    truth value or none. Made where the rows are planned (an import's workers), so the write
    transaction only sends them (`copy_lines_in`)."""
    fields = []
    for column in values.values():
        kinds = set(map(type, column)) - {type(None)}
        if not (kinds <= {int, float} or kinds == {str} or kinds == {bool}):
            return None
        fields.append(_copy_field(column, kinds))
    return list(map("\t".join, zip(*fields)))


def copy_lines_in(conn, table_name: str, columns: list[str], lines: list[str], *,
                  first: list[int | None] | None = None) -> None:
    """PostgreSQL: COPY the rows `lines` (`copy_lines` of `columns`) into the table inside the
    caller's transaction; with `first`, each row's value of a first column (a patient id, known
    only now) goes before its line."""
    from psycopg.copy import QueuedLibpqWriter

    raw = conn.connection.driver_connection  # the psycopg connection of this transaction
    with raw.cursor() as cursor:
        # A thread sends each part while the next is made: the server's work (constraints,
        # indexes) overlaps ours instead of following it.
        with cursor.copy(f"COPY {table_name} ({', '.join(columns)}) FROM STDIN",
                         writer=QueuedLibpqWriter(cursor)) as copy:
            for start in range(0, len(lines), COPY_ROWS):
                part = lines[start:start + COPY_ROWS]
                if first is not None:
                    heads = [NONE if v is None else str(int(v)) for v in first[start:start + COPY_ROWS]]
                    part = [f"{head}\t{line}" for head, line in zip(heads, part)]
                copy.write(("\n".join(part) + "\n").encode("utf-8"))


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


STAGE_ROWS = 100  # PostgreSQL: rows changing the same columns from which they go through a staging table


def bulk_update(conn, table, updates: list[tuple[int, dict]]) -> None:
    """Set the rows' new values (row id, {column: value}) inside the caller's transaction.

    Rows that change the same columns go together: on PostgreSQL, when there are many, COPY into a
    temporary table (dropped at the latest at the commit) and one `UPDATE ... FROM` it; else one
    prepared UPDATE over the rows. A row is updated once, so the order does not matter."""
    groups: dict[tuple[str, ...], list[tuple[int, dict]]] = {}
    for row_id, upd in updates:
        groups.setdefault(tuple(sorted(upd)), []).append((row_id, upd))
    for columns, rows in groups.items():
        if conn.dialect.name == "postgresql" and len(rows) >= STAGE_ROWS:
            staging = f"staged_{table.name}"
            conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {staging} ON COMMIT DROP AS "
                                 f"SELECT id, {', '.join(columns)} FROM {table.name} WITH NO DATA")
            bulk_insert(conn, staging, {"id": [row_id for row_id, _ in rows],
                                        **{c: [upd[c] for _, upd in rows] for c in columns}})
            conn.exec_driver_sql(f"UPDATE {table.name} AS t SET {', '.join(f'{c} = s.{c}' for c in columns)} "
                                 f"FROM {staging} AS s WHERE t.id = s.id")
            conn.exec_driver_sql(f"DROP TABLE {staging}")
            continue
        statement = table.update().where(table.c.id == bindparam("id__")).values(
            {c: bindparam(c) for c in columns})
        conn.execute(statement, [{"id__": row_id, **upd} for row_id, upd in rows])
