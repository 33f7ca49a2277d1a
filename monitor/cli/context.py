"""What every `monitor` command shares: the app context, options, output formats, error mapping.

Only click and the standard library are imported at module level so `monitor --help` is
instant; pandas, SQLAlchemy and matplotlib are imported inside the commands that need them.
"""

from __future__ import annotations

import os
import sys
from datetime import date

import click

from monitor.errors import MonitorError

FORMATS = ("table", "csv", "json")
STATUS_CHOICES = ("not_due", "due_soon", "due", "overdue")
SEVERITIES = ("info", "warn", "urgent")
# A SQLite database holds ~2.6 kB per patient of the synthetic cohorts (265 MB at 100k): a file
# of more than a chunk's worth at 3 kB per patient almost surely has more than one chunk.
BYTES_PER_PATIENT = 3000


class AppContext:
    """What every command shares: the database URL and the clinic configuration, opened lazily."""

    def __init__(self, db: str | None, config_path: str | None, by: str | None = None):
        self.db = db
        self.config_path = config_path
        self.by = by
        self._config = None
        self._engine = None

    @property
    def config(self):
        if self._config is None:
            from monitor.config import load_config

            self._config = load_config(self.config_path)
        return self._config

    @property
    def engine(self):
        """The database, which must exist (only `monitor init` creates one: see `new_engine`)."""
        if self._engine is None:
            from monitor.store import make_engine

            self._engine = _protected(make_engine(self.db, must_exist=True,
                                                  busy_timeout_s=self.config.database.busy_timeout_seconds))
        return self._engine

    def new_engine(self):
        """The database for `monitor init`: created when missing."""
        from monitor.store import make_engine

        self._engine = _protected(make_engine(self.db, busy_timeout_s=self.config.database.busy_timeout_seconds))
        return self._engine

    def start_workers_early(self) -> None:
        """Before a cohort list or the nightly run: on a SQLite file big enough for more than one
        chunk, start the evaluation workers' server (services.chunk_workers.start_early) while this
        process still loads its modules. Decided from the file's size, without loading the database
        layer (that would load pandas first)."""
        scale = self.config.scale
        if scale.evaluation_workers <= 0 or scale.chunk_patients <= 0:
            return
        url = self.db or os.environ.get("MONITOR_DATABASE_URL") or "sqlite:///monitor.db"
        path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else (url if "://" not in url else "")
        try:
            size = os.path.getsize(path) if path else 0
        except OSError:
            return  # no such file: the command says so
        if size > scale.chunk_patients * BYTES_PER_PATIENT:
            from monitor.services.chunk_workers import start_early

            start_early()

    def audit(self, action: str, subject: str, *, rows: int = 0, by: str | None = None, **detail) -> None:
        """Record who sees or writes patient data (before it is shown): the OS user, on behalf of --by."""
        from monitor.services.audit import record_access

        record_access(self.engine, action=action, subject=subject, rows=rows, by=by or self.by, detail=detail)

    def as_of(self, value: date | None) -> date:
        if value is not None:
            return value
        from monitor.services.audit import today_in

        return today_in(self.config)


def _protected(engine):
    """From now on in this process, no file a user names (-o) may be the database or its companions."""
    from monitor.formats.files import protect
    from monitor.store import database_files

    for path in database_files(engine):
        protect(path)
    return engine


pass_app = click.make_pass_decorator(AppContext)


class MonitorGroup(click.Group):
    """A group that turns a MonitorError into `Error: ...` and its exit code, never a traceback."""

    def invoke(self, ctx):
        _stop_cleanly_on_sigterm()
        try:
            return super().invoke(ctx)
        except MonitorError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except BrokenPipeError:
            # `monitor due | head`: the reader has what it wanted. Quiet, like other Unix tools;
            # stdout goes to /dev/null so the interpreter's final flush cannot complain either.
            import os
            import sys

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(1)
        except OSError as exc:
            # A file the user named: missing, not allowed, a full or read-only disk.
            where = f": {exc.filename}" if exc.filename else ""
            click.echo(f"Error: {exc.strerror or type(exc).__name__}{where}", err=True)
            ctx.exit(1)
        except Exception as exc:
            error = _database_error(exc, ctx)
            if error is None:
                raise
            click.echo(f"Error: {error}", err=True)
            ctx.exit(error.exit_code)


STOPPED_BY_SIGTERM = 143  # 128 + 15, as a shell reports a process that SIGTERM ended


def _stop_cleanly_on_sigterm() -> None:
    """SIGTERM (`kill`, a service manager, a scheduler's timeout) stops a command as Ctrl-C does:
    an exception, so staged files are removed, the transaction is rolled back and the worker
    processes are stopped, instead of dying where it stands. `serve` and `daemon` set their own."""
    import signal

    def stop(_signum, _frame):
        raise SystemExit(STOPPED_BY_SIGTERM)

    signal.signal(signal.SIGTERM, stop)


def _database_error(exc: Exception, ctx):
    """A database failure (locked, read-only, not a database, ...) as a MonitorError, else None."""
    if "sqlalchemy" not in sys.modules:
        return None
    from sqlalchemy.exc import DBAPIError

    from monitor.store import explain

    if not isinstance(exc, DBAPIError):
        return None
    app = ctx.find_object(AppContext)
    return explain(exc, app._engine if app is not None else None)


def as_of_option(f):
    def parse(_ctx, _param, value):
        if value is None:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise click.BadParameter(f"expected a date YYYY-MM-DD, got '{value}'") from None

    return click.option("--as-of", callback=parse, metavar="YYYY-MM-DD",
                        help="Evaluate on this date (default: today in the clinic's time zone).")(f)


def format_option(choices=FORMATS):
    return click.option("--format", "fmt", type=click.Choice(choices), default="table", show_default=True,
                        help="Output format.")


def render(rows, columns: list[str], fmt: str) -> str:
    """Rows (a DataFrame, or a list of dicts) as an aligned text table, CSV or JSON."""
    if isinstance(rows, list):
        import pandas as pd

        rows = pd.DataFrame(rows, columns=columns)
    rows = rows[columns]
    if fmt == "json":
        # pandas writes the JSON in C; json.dumps of 100,000 dicts takes seconds.
        return rows.to_json(orient="records", force_ascii=False, indent=2) if len(rows) else "[]"
    if fmt == "csv":
        from monitor.formats.files import frame_csv_bytes

        return frame_csv_bytes(rows, bom=False).decode("utf-8").replace("\r\n", "\n").rstrip("\n")
    cells = [["" if v is None or v != v else str(v) for v in row] for row in rows.itertuples(index=False, name=None)]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def step_printer():
    """Progress lines on a terminal; quiet otherwise."""
    if not sys.stderr.isatty():
        return None
    return lambda message: click.echo(f"... {message}", err=True)


def parse_date(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise MonitorError(f"{what}: expected a date YYYY-MM-DD, got '{value}'") from None


def progress_factory(label: str):
    """A progress callback that draws a bar on a terminal and stays quiet otherwise."""
    if not sys.stderr.isatty():
        return None

    def progress(done: int, total: int) -> None:
        width = 30
        filled = int(width * done / max(total, 1))
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return progress
