"""Writing many new rows at once: PostgreSQL's COPY, or the driver's executemany elsewhere."""

from __future__ import annotations


def bulk_insert(conn, table_name: str, values: dict[str, list]) -> None:
    """Insert the rows (column -> values, in order) inside the caller's transaction.

    On PostgreSQL the rows stream through `COPY ... FROM STDIN` (one round trip, no per-row
    statement); elsewhere one prepared INSERT runs over plain tuples."""
    columns = list(values)
    if not columns:
        return
    rows = zip(*values.values())
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection  # the psycopg connection of this transaction
        with raw.cursor() as cursor:
            with cursor.copy(f"COPY {table_name} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO {table_name} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    conn.exec_driver_sql(sql, list(rows))
