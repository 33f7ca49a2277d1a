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

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import NullPool

from monitor.errors import DatabaseError

DEFAULT_URL = "sqlite:///monitor.db"
BUSY_TIMEOUT_MS = 30_000

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


def database_files(engine: Engine) -> list[Path]:
    """A SQLite database's file and its companions (as named, and through symlinks): what no export may overwrite."""
    path = sqlite_path(engine)
    if path is None:
        return []
    return [Path(f"{base}{suffix}") for base in {path, path.resolve()}
            for suffix in ("", "-wal", "-shm", "-journal", ".daemon.lock")]


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
    from monitor.store.core_tables import audit_event  # no SQLModel: every command that shows patient data writes this

    conn.execute(audit_event.insert(), {
        "at": datetime.now(timezone.utc), "actor": actor, "action": action, "subject": subject,
        "rows": rows, "detail": json.dumps(detail or {}),
    })
