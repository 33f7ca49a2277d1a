"""The database: engine, transactions, and the few queries that load a whole cohort.

SQLite (the default) is opened the way ENGINEERING.md found safe for a CLI and a daemon
sharing one file: autocommit driver mode, WAL, a busy timeout, and `BEGIN IMMEDIATE` for every
transaction, so two writers queue instead of losing updates. Any SQLAlchemy URL works too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import NullPool

from monitor import safe_files
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
# Records marked wrong (models.Retraction): kept, but no cohort frame holds them.
RETRACTION_TABLE = "retraction"


def resolve_url(url: str | None) -> str:
    return url or os.environ.get("MONITOR_DATABASE_URL") or DEFAULT_URL


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def sqlite_path(engine_or_url) -> Path | None:
    """The file of a SQLite database (None for other databases and in-memory ones)."""
    url = engine_or_url.url if isinstance(engine_or_url, Engine) else make_url(engine_or_url)
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def make_engine(url: str | None = None, *, must_exist: bool = False,
                busy_timeout_s: float = BUSY_TIMEOUT_MS / 1000) -> Engine:
    """An engine for the URL (default: `monitor.db` in the working directory).

    A plain path is a SQLite file. `must_exist` refuses a SQLite file that is not there, so a
    mistyped `--db` never leaves an empty database behind. SQL errors never show bound values
    (`hide_parameters`): those are patient data."""
    url = resolve_url(url)
    if "://" not in url:
        url = f"sqlite:///{url}"
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError("not a database URL (expected a file path or sqlite:///FILE, "
                            "postgresql+psycopg://user@host/db)") from None
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_path(url)
        if path is not None:
            if not path.parent.resolve().is_dir():
                raise DatabaseError(f"folder for the database does not exist: {path.parent}")
            if must_exist and not path.exists():
                raise DatabaseError(f"no database at {path}: check --db, or create one with `monitor init`")
            if path.is_dir():
                raise DatabaseError(f"{path} is a folder, not a database file")
            for base in {path, path.resolve()}:
                for suffix in ("", "-wal", "-shm", "-journal", ".daemon.lock"):
                    safe_files.protect(Path(f"{base}{suffix}"))
        timeout_ms = int(busy_timeout_s * 1000)
        engine = create_engine(url, poolclass=NullPool, hide_parameters=True,
                               connect_args={"timeout": timeout_ms / 1000})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):
            dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout={timeout_ms}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            # Writers take the write lock up front; a pure read (see `reading`) need not.
            read_only = conn.get_execution_options().get("monitor_read_only", False)
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    try:
        return create_engine(url, pool_pre_ping=True, hide_parameters=True)
    except Exception as exc:  # missing driver, bad URL parts
        raise DatabaseError(f"cannot open database {parsed.render_as_string(hide_password=True)}: "
                            f"{type(exc).__name__}") from None


def lock_holders(path: Path) -> list[str]:
    """Other processes that have the SQLite file open, as 'pid N (monitor COMMAND)'.

    Only the program and its subcommand are shown, never its other arguments (file names)."""
    wanted = {f"{Path(path).resolve()}{s}" for s in ("", "-wal", "-shm")}
    me = os.getpid()
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        if int(proc.name) == me:
            continue
        try:
            fds = {os.readlink(fd) for fd in (proc / "fd").iterdir()}
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if fds & wanted:
            found.append(f"pid {proc.name} ({_command_name(argv)})")
    return found


def _command_name(argv: list[bytes]) -> str:
    words = [Path(a.decode(errors="replace")).name for a in argv if a]
    for i, w in enumerate(words):
        if w == "monitor" or (w == "-m" and i + 1 < len(words) and words[i + 1] == "monitor"):
            rest = [x for x in words[i + 1:] if x != "monitor" and not x.startswith("-")]
            return "monitor " + rest[0] if rest else "monitor"
    return words[0] if words else "?"


def explain(exc: BaseException, engine: Engine | None = None) -> DatabaseError:
    """A database failure as a user-facing error that says what to do (never a bound value)."""
    orig = getattr(exc, "orig", None) or exc
    text_ = str(orig).lower()
    where = ""
    path = sqlite_path(engine) if engine is not None else None
    if path is not None:
        where = f" ({path})"
    if "locked" in text_ or "busy" in text_:
        holders = lock_holders(path) if path is not None else []
        who = f"; held by {', '.join(holders)}" if holders else ""
        return DatabaseError(f"the database is busy{where}: another process is writing to it{who}. "
                             "Try again in a moment (the wait is [database] busy_timeout_seconds).")
    if "readonly" in text_ or "read-only" in text_ or "read only" in text_:
        return DatabaseError(f"the database is read-only{where}: check the file's and folder's permissions")
    if "not a database" in text_ or "malformed" in text_ or "disk image" in text_:
        return DatabaseError(f"this is not a toh-monitor database, or it is damaged{where}: "
                             "check --db (restore it from a backup if it is damaged)")
    if "unable to open" in text_:
        return DatabaseError(f"cannot open the database{where}: check the path and permissions")
    if "no such table" in text_ or "no such column" in text_ or "does not exist" in text_ and "relation" in text_:
        return DatabaseError(f"the database{where} is not initialised or was made by another version: "
                             "run `monitor init` to create or upgrade it")
    if "too long" in text_:
        return DatabaseError("a value is longer than the database allows; nothing was written")
    if "disk" in text_ and "full" in text_:
        return DatabaseError(f"the disk is full{where}; nothing was written")
    if "connection" in text_ or "could not connect" in text_ or "server" in text_:
        return DatabaseError("cannot reach the database server: check --db and that the server runs")
    # IntegrityError and the rest: the driver's message may quote patient values; name the kind only.
    return DatabaseError(f"the database refused the operation ({type(orig).__name__}); nothing was written")


# Alembic revisions, oldest first (monitor/migrations/versions); the last is this version's schema.
REVISIONS = ("0001", "0002")
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

    from monitor import models

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


def record_event(conn: Connection, *, actor: str, action: str, subject: str, rows: int = 0,
                 detail: dict | None = None) -> None:
    """Append who did what and when to the audit log (imports, exports)."""
    from monitor.models import AuditEvent

    conn.execute(AuditEvent.__table__.insert(), {
        "at": datetime.now(timezone.utc), "actor": actor, "action": action, "subject": subject,
        "rows": rows, "detail": json.dumps(detail or {}),
    })


def _code_vocabularies() -> dict[str, dict[str, tuple[str, ...]]]:
    """Per frame kind, the text columns whose values come from a fixed vocabulary."""
    from monitor.importspec import (
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


def read_table(conn: Connection, kind: str, *, patient_id: int | None = None, numeric: bool = True) -> pd.DataFrame:
    """One cohort frame, read in one query (all patients, or one), without retracted records.

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


def load_cohort(engine: Engine, kinds: tuple[str, ...] | None = None) -> Cohort:
    """The whole recorded history but retracted records, one query per table (never one per patient)."""
    require_initialised(engine)
    frames = {}
    with reading(engine) as conn:
        for kind in kinds or tuple(TABLES):
            frames[kind] = read_table(conn, kind)
    return Cohort.from_frames(**frames)
