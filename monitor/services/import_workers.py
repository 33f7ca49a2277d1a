"""A large import's files split, and its buckets checked and planned, in worker processes.

Files are independent, and so are buckets (every record of one MRN is in one bucket), so each is
one task. Each worker opens its own engine (a connection never crosses a fork) and reads its
bucket in its own read-only transaction, after reading the stamp; the parent takes the outcomes
in file and bucket order, so what the user sees (progress, the first broken file's error, the
problems, counts, rejects and audit) reads exactly as when one process does it all.

Processes are forked when this process runs no other thread (the CLI; fastest), else started by
a fork server (the daemon and the web server run threads, which a fork would copy mid-step).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from contextlib import contextmanager
from pathlib import Path

from monitor.errors import MonitorError

WORKERS_ENV = "MONITOR_IMPORT_WORKERS"  # overrides the default; 1 prepares in this process


def worker_count(given: int | None = None) -> int:
    """`given` ([scale] import_workers) when set, else the environment's MONITOR_IMPORT_WORKERS,
    else one per core, at most 2 (more than the machine's cores only adds start-up)."""
    if not given:
        try:
            given = int(os.environ.get(WORKERS_ENV) or 0)
        except ValueError:
            raise MonitorError(f"{WORKERS_ENV} must be a whole number of worker processes") from None
    if given < 0:
        raise MonitorError(f"import workers must be 0 (as many as cores, at most 2) or more, got {given}")
    return given or max(1, min(2, os.cpu_count() or 1))


def can_share(engine) -> bool:
    """Whether other processes see this engine's database: not an in-memory SQLite database."""
    database = engine.url.database or ""
    return engine.url.get_backend_name() != "sqlite" or (database not in ("", ":memory:")
                                                          and "mode=memory" not in database)


def start_method() -> str:
    methods = multiprocessing.get_all_start_methods()
    if threading.active_count() == 1 and "fork" in methods:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


def start_worker(command: int) -> None:
    """In a worker, as it starts: SIGTERM ends it outright again, and it ends when the command
    (process id `command`) does (services.chunk_workers.watch_command). A worker forked from a
    command inherits the command's handler (cli.context: SIGTERM raises SystemExit, for its
    clean-up), and the pool stops its workers with SIGTERM: a worker that raised instead of
    ending was seen left waiting for a lock a terminated sibling held, and the command for it."""
    import signal

    from monitor.services.chunk_workers import watch_command

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    watch_command(command)


@contextmanager
def worker_pool(n: int):
    """`n` worker processes, ended when the block ends (at once when it raises)."""
    pool = multiprocessing.get_context(start_method()).Pool(n, initializer=start_worker, initargs=(os.getpid(),))
    try:
        yield pool
    except BaseException:
        pool.terminate()
        pool.join()
        raise
    pool.close()
    pool.join()


class _Failed:
    """A user's error raised in a worker, handed back to be raised in the parent as it was."""

    def __init__(self, error: MonitorError):
        self.error = error


def split_files(pool, paths: list[Path], tasks: list, step) -> list:
    """Split each file (CsvSource, spool folder, buckets, options) in the pool; the split sources
    in file order, or the first file's error in file order (a task may be an error already: a
    file that is not there)."""
    pending: list = [None] * len(tasks)
    for i in sorted(range(len(tasks)), key=lambda i: -_size(paths[i])):  # the largest first: it ends last
        if not isinstance(tasks[i], MonitorError):
            pending[i] = pool.apply_async(_split, tasks[i])
    sources = []
    for path, task, result in zip(paths, tasks, pending):
        step(f"reading and checking {path.name}")
        if isinstance(task, MonitorError):
            raise task
        got = result.get()
        if isinstance(got, _Failed):
            raise got.error
        sources.append(got)
    return sources


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _split(source, folder: Path, k: int, options: dict):
    from monitor.services.import_buckets import split_csv

    try:
        split_csv(source, folder, k, **options)
    except MonitorError as exc:
        return _Failed(exc)
    return source


def prepare_buckets(pool, url: str, k: int, *, step, **job):
    """Each bucket's (stamp, BucketOut), in bucket order, prepared in the pool."""
    results = pool.imap(_prepare, [(url, bucket, job) for bucket in range(k)])
    for bucket in range(k):
        step(f"checking patients' part {bucket + 1} of {k}")
        got = next(results)
        if isinstance(got, _Failed):
            raise got.error
        yield got


_ENGINES: dict = {}


def _prepare(task):
    from monitor import store
    from monitor.services.import_buckets import parse_bucket
    from monitor.services.import_checks import stamp
    from monitor.services.import_prepare import prepare_bucket

    url, bucket, job = task
    if url not in _ENGINES:  # this worker's own engine, opened in this process
        _ENGINES[url] = store.make_engine(url)
    try:
        with store.reading(_ENGINES[url]) as conn:
            read_stamp = stamp(conn)
            parsed = parse_bucket(job["sources"], job["spool"], bucket, today=job["today"],
                                  risk_codes=job["risk_codes"], date_format=job["date_format"])
            return read_stamp, prepare_bucket(conn, parsed, bucket, job["spool"], today=job["today"],
                                              keep_valid=job["keep_valid"], rejected=False, sqlite=job["sqlite"],
                                              stage=job["stage"], copy=job["copy"])
    except MonitorError as exc:
        return _Failed(exc)
