"""PostgreSQL: loading many new rows into a table without its foreign-key triggers.

A foreign key is checked by a trigger fired once for every inserted row. When a table receives
at least `BULK_ROWS` new rows in one import, the write transaction drops the table's foreign keys,
writes, then adds each back exactly as it was (its name and definition read from the catalog)
`NOT VALID`, and validates it: one set-based check of every row instead of one query per row.
All of it happens in the import's own transaction, so a failure anywhere (a row without its
patient included) rolls back the rows and the dropped constraint alike.

The price is a lock: dropping a foreign key takes an ACCESS EXCLUSIVE lock on the table and the
table it references (patient) until the commit, so readers of those tables wait for the import
to end. Smaller imports keep the ordinary path, where readers are never held up.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from sqlalchemy import text

BULK_ROWS = 50_000  # new rows in one table from which its foreign keys are checked once, set-based


def bulk_tables(conn, new_rows: Mapping[str, int]) -> list[str]:
    """The tables (of `new_rows`: table -> rows about to be inserted) to load without foreign-key
    triggers: on PostgreSQL, those receiving at least `BULK_ROWS` rows; elsewhere none."""
    if conn.dialect.name != "postgresql":
        return []
    return [table for table, rows in new_rows.items() if rows >= BULK_ROWS]


def foreign_keys(conn, table: str) -> list[tuple[str, str, str]]:
    """The table's foreign keys as the catalog holds them: (quoted name, definition, the table it
    references)."""
    return [tuple(row) for row in conn.execute(text(
        "SELECT quote_ident(conname), pg_get_constraintdef(oid), CAST(CAST(confrelid AS regclass) AS text) "
        "FROM pg_constraint WHERE conrelid = CAST(:table AS regclass) AND contype = 'f' ORDER BY conname"),
        {"table": table})]


@contextmanager
def without_foreign_keys(conn, tables: list[str]) -> Iterator[None]:
    """Inside the caller's transaction: the tables' foreign keys dropped for the block, added back
    and validated after it. On an exception nothing is added back: the caller's rollback restores
    the constraints with everything else.

    The locks dropping takes are taken first, all at once, the referenced tables first (as a
    reader reads a patient before the patient's records), so the import does not hold one while
    it waits for another."""
    dropped = {table: foreign_keys(conn, table) for table in tables}
    referenced = sorted({ref for keys in dropped.values() for _, _, ref in keys})
    locked = [*referenced, *(table for table in tables if dropped[table] and table not in referenced)]
    if locked:
        conn.exec_driver_sql(f"LOCK TABLE {', '.join(locked)} IN ACCESS EXCLUSIVE MODE")
    for table, keys in dropped.items():
        for name, _, _ in keys:
            conn.exec_driver_sql(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    yield
    for table, keys in dropped.items():
        for name, definition, _ in keys:
            conn.exec_driver_sql(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition} NOT VALID")
            conn.exec_driver_sql(f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}")
