"""Creating, upgrading and checking the schema: Alembic migrations (store/migrations)."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from monitor.errors import DatabaseError
from monitor.rules.cohort import COLUMNS
from monitor.store.cohort_reads import RETRACTION_TABLE, TABLES
from monitor.store.engine import explain, is_sqlite, reading


# Alembic revisions, oldest first (monitor/migrations/versions); the last is this version's schema.
REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0006", "0007")
SCHEMA_REVISION = REVISIONS[-1]


def _alembic_config(conn: Connection):
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    config.attributes["connection"] = conn
    return config


def schema_revision(conn: Connection) -> str | None:
    """The database's Alembic revision; None for a database without one (0.1.0, or not initialised)."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def upgrade_db(engine: Engine) -> tuple[bool, str | None, str]:
    """Create the database, or upgrade it to this version's schema in one transaction.

    Returns (created, revision before, revision now). A 0.1.0 database (no revision) is stamped
    with revision 0001, its schema, and upgraded from there; no row is touched but by a migration."""
    from alembic import command
    from sqlmodel import SQLModel

    from monitor.store import tables as models

    try:
        with engine.begin() as conn:
            config = _alembic_config(conn)
            is_new = not inspect(conn).has_table("patient")
            before = None if is_new else schema_revision(conn)
            if is_new:
                SQLModel.metadata.create_all(conn)
                conn.execute(models.SchemaInfo.__table__.insert(), {"version": models.SCHEMA_VERSION})
                command.stamp(config, "head")
            else:
                if before is None:
                    command.stamp(config, REVISIONS[0])
                elif before not in REVISIONS:
                    raise DatabaseError(f"the database was made by a newer toh-monitor (schema revision {before}); "
                                        "upgrade toh-monitor to use it")
                command.upgrade(config, "head")
                # A development build's database may lack a table or nullable column its stamp
                # promises; adding them touches no row.
                SQLModel.metadata.create_all(conn)
                _add_missing_columns(conn, SQLModel.metadata)
    except DBAPIError as exc:
        raise explain(exc, engine) from None
    _restrict_sqlite_file(engine)
    return is_new, before, SCHEMA_REVISION


def init_db(engine: Engine) -> bool:
    """Create or upgrade the database (see `upgrade_db`); True when the database was new."""
    return upgrade_db(engine)[0]


def _add_missing_columns(conn: Connection, metadata) -> list[str]:
    """The upgrade path for a column a newer version added: nullable, so no row is touched."""
    inspector = inspect(conn)
    added = []
    for table in metadata.sorted_tables:
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present and column.nullable:
                kind = column.type.compile(dialect=conn.dialect)
                conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}")
                added.append(f"{table.name}.{column.name}")
    return added


def _restrict_sqlite_file(engine: Engine) -> None:
    """A SQLite file holds patient data: readable and writable by its owner only."""
    if not is_sqlite(engine):
        return
    database = engine.url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        for suffix in ("", "-wal", "-shm"):
            path = Path(database + suffix)
            if path.exists():
                os.chmod(path, 0o600)


def require_initialised(engine: Engine) -> None:
    """The database exists, and has every table and column this version reads."""
    try:
        with reading(engine) as conn:
            inspector = inspect(conn)
            if not inspector.has_table("patient"):
                raise DatabaseError("the database is not initialised: run `monitor init` first")
            missing = []
            for kind, (table, renames) in TABLES.items():
                present = {c["name"] for c in inspector.get_columns(table)} if inspector.has_table(table) else set()
                missing += [f"{table}.{renames.get(c, c)}" for c in COLUMNS[kind] if renames.get(c, c) not in present]
            for table in (RETRACTION_TABLE, "flag_acknowledgement"):
                if not inspector.has_table(table):
                    missing.append(f"table {table}")
            revision = schema_revision(conn)
    except DBAPIError as exc:
        raise explain(exc, engine) from None
    if missing:
        raise DatabaseError(f"the database was made by an older version (no {', '.join(missing)}): "
                            "run `monitor init` to upgrade it")
    if revision != SCHEMA_REVISION:
        if revision is not None and revision not in REVISIONS:
            raise DatabaseError(f"the database was made by a newer toh-monitor (schema revision {revision}); "
                                "upgrade toh-monitor to use it")
        raise DatabaseError(f"the database was made by an older version (schema revision {revision or '0.1.0'}): "
                            "run `monitor init` to upgrade it")
