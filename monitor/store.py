"""The database: engine, transactions, and the few queries that load a whole cohort.

SQLite (the default) is opened the way ENGINEERING.md found safe for a CLI and a daemon
sharing one file: autocommit driver mode, WAL, a busy timeout, and `BEGIN IMMEDIATE` for every
transaction, so two writers queue instead of losing updates. Any SQLAlchemy URL works too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.pool import NullPool
from sqlmodel import Session, SQLModel

from monitor import models
from monitor.cohort import COLUMNS, Cohort, coerce_frame
from monitor.errors import DatabaseError

DEFAULT_URL = "sqlite:///monitor.db"
BUSY_TIMEOUT_MS = 30_000

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


def resolve_url(url: str | None) -> str:
    return url or os.environ.get("MONITOR_DATABASE_URL") or DEFAULT_URL


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str | None = None) -> Engine:
    """An engine for the URL (default: `monitor.db` in the working directory)."""
    url = resolve_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(f"not a database URL: {url!r}") from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            parent = Path(database).expanduser().resolve().parent
            if not parent.is_dir():
                raise DatabaseError(f"folder for the database does not exist: {parent}")
        engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):
            dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            # Writers take the write lock up front; a pure read (see `reading`) need not.
            read_only = conn.get_execution_options().get("monitor_read_only", False)
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    try:
        return create_engine(url, pool_pre_ping=True)
    except Exception as exc:  # missing driver, bad URL parts
        raise DatabaseError(f"cannot open database {parsed.render_as_string(hide_password=True)}: {exc}") from None


def init_db(engine: Engine) -> bool:
    """Create the missing tables; True when the database was new."""
    try:
        with engine.begin() as conn:
            is_new = not inspect(conn).has_table("patient")
            SQLModel.metadata.create_all(conn)
            if is_new:
                conn.execute(models.SchemaInfo.__table__.insert(), {"version": models.SCHEMA_VERSION})
    except OperationalError as exc:
        raise DatabaseError(f"cannot open the database: {exc.orig}") from None
    _restrict_sqlite_file(engine)
    return is_new


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
    try:
        with engine.connect() as conn:
            ready = inspect(conn).has_table("patient")
    except OperationalError as exc:
        raise DatabaseError(f"cannot open the database: {exc.orig}") from None
    if not ready:
        raise DatabaseError("the database is not initialised: run `monitor init` first")


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One all-or-nothing unit of work: commits at the end, rolls back on any exception."""
    with engine.begin() as conn:
        yield conn


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A read-only connection: on SQLite it does not block the writer, nor wait for it."""
    with engine.connect() as conn:
        conn = conn.execution_options(monitor_read_only=True)
        yield conn


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    with Session(engine) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def read_table(conn: Connection, kind: str, *, patient_id: int | None = None) -> pd.DataFrame:
    """One cohort frame, read in one query (all patients, or one)."""
    table, renames = TABLES[kind]
    columns = list(COLUMNS[kind])
    select_list = ", ".join(
        f"{renames[c]} AS {c}" if c in renames else c for c in columns
    )
    query = f"SELECT {select_list} FROM {table}"
    params: tuple = ()
    if patient_id is not None:
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        query += f" WHERE {'id' if kind == 'patients' else 'patient_id'} = {mark}"
        params = (patient_id,)
    # The driver's own rows: SQLAlchemy's row objects would double the cost of the read.
    rows = conn.exec_driver_sql(query, params).cursor.fetchall()
    frame = pd.DataFrame.from_records(rows, columns=columns) if rows else pd.DataFrame(columns=columns)
    del rows
    if len(frame):
        for column, ctype in COLUMNS[kind].items():
            if ctype == "date":
                frame[column] = pd.to_datetime(frame[column], format="ISO8601")
            elif ctype == "bool":
                frame[column] = frame[column].astype("boolean")
    return coerce_frame(kind, frame)


def load_cohort(engine: Engine, kinds: tuple[str, ...] | None = None) -> Cohort:
    """The whole recorded history, one query per table (never one per patient)."""
    require_initialised(engine)
    frames = {}
    with reading(engine) as conn:
        for kind in kinds or tuple(TABLES):
            frames[kind] = read_table(conn, kind)
    return Cohort.from_frames(**frames)
