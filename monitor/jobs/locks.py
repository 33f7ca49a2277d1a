"""One daemon per database: an OS file lock beside a SQLite file, an advisory lock on PostgreSQL.

Both are released by the operating system or the server when the process dies, even by SIGKILL.
The lock file is removed when its daemon stops cleanly (a file left by a killed daemon is
harmless: the next daemon locks it again). A daemon that locks a file checks that the path still
names that file, so removing it never lets two daemons hold two files.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from sqlalchemy import Engine, text

from monitor.errors import MonitorError

ADVISORY_KEY = 0x70_48_4D_4F_4E  # "toh-monitor daemon"


class DaemonAlreadyRunning(MonitorError):
    exit_code = 3


class DaemonLock:
    """Held for the daemon's whole life; `acquire` refuses at once if another daemon holds it."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._fh = None
        self._conn = None

    def describe(self) -> str:
        if self.engine.dialect.name == "sqlite":
            return str(self._lock_path())
        return f"PostgreSQL advisory lock {ADVISORY_KEY}"

    def _lock_path(self) -> Path:
        """Beside the database's real file: two paths to one file (a symlink, `..`) are one lock."""
        from monitor.store import sqlite_path

        database = sqlite_path(self.engine)
        if database is None:
            raise MonitorError("the daemon needs a database file, not an in-memory database")
        return Path(f"{database.resolve()}.daemon.lock")

    def acquire(self) -> "DaemonLock":
        name = self.engine.dialect.name
        if name == "sqlite":
            path = self._lock_path()
            fh = self._lock_file(path)
            fh.seek(0)
            fh.truncate()
            fh.write(str(os.getpid()))
            fh.flush()
            self._fh = fh
        elif name == "postgresql":
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
            if not got:
                conn.close()
                raise DaemonAlreadyRunning("another daemon is already running on this database "
                                           f"(PostgreSQL advisory lock {ADVISORY_KEY} is held)")
            self._conn = conn
        else:
            raise MonitorError(f"the daemon supports SQLite and PostgreSQL, not {name}")
        return self

    @staticmethod
    def _lock_file(path: Path):
        """The lock file, locked; refuses at once when another process holds it."""
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            fh = os.fdopen(fd, "r+")
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = fh.read().strip()
                fh.close()
                raise DaemonAlreadyRunning(
                    f"another daemon is already running on this database (lock {path}"
                    + (f", pid {holder}" if holder else "") + ")") from None
            if _same_file(fh, path):
                return fh
            fh.close()  # a stopping daemon removed it between our open and our lock: lock the new one

    def is_held_elsewhere(self) -> bool:
        """True when some other process holds the lock now (for `monitor jobs`)."""
        try:
            self.acquire()
        except DaemonAlreadyRunning:
            return True
        self.release()
        return False

    def release(self) -> None:
        if self._fh is not None:
            path = self._lock_path()
            if _same_file(self._fh, path):  # ours, still locked by us: no other daemon can hold it
                path.unlink(missing_ok=True)
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
            finally:
                self._conn.close()
                self._conn = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def _same_file(fh, path: Path) -> bool:
    """Whether `path` still names the open file `fh`."""
    try:
        here = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fh.fileno())
    return (here.st_dev, here.st_ino) == (mine.st_dev, mine.st_ino)
