"""Tasks run in worker processes, their results handed back in the tasks' order.

The lists and the nightly run give each worker a chunk to read and evaluate (services.chunks:
reading a chunk and evaluating it each take a large part of the time, so both cores read and
evaluate); with `[scale] evaluation_workers = 0`, or one chunk, the tasks run here. Results come
back in the chunks' order, so the output is the same bytes either way.
A worker is a fresh process (forkserver, else spawn: never a fork of a process holding a database
connection or threads), started once per pass and only when there is more than one chunk.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterable, Iterator

from monitor.errors import MonitorError


class WorkerLost(MonitorError):
    """A worker process ended without its result (killed, or out of memory)."""

# Imported once by the fork server, so each worker starts with pandas and the rules loaded.
PRELOAD = ["monitor.rules.evaluation", "monitor.services.chunk_work"]


def start_early() -> None:
    """Start the workers' server now: it loads pandas and the rules (PRELOAD) on another core while
    this process loads its own modules, instead of after, when the first chunk is handed out.
    Only a matter of time: the workers start from the same server either way."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return
    from multiprocessing import forkserver

    multiprocessing.get_context("forkserver").set_forkserver_preload(PRELOAD)
    forkserver.ensure_running()


def _pool(workers: int) -> ProcessPoolExecutor:
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if "forkserver" in methods:
        context.set_forkserver_preload(PRELOAD)
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=watch_command,
                               initargs=(os.getpid(),))


WATCH_SECONDS = 1.0


def watch_command(command: int) -> None:
    """In a worker, as it starts: end it within a second of the command (process id `command`)
    that started it ending. A command killed outright (SIGTERM, SIGKILL: no clean-up) left its
    workers evaluating and drawing for nobody, for as long as their queue lasted, and the fork
    server with them (each worker holds the handle whose closing would tell the server the
    command is gone). A thread notices, and the worker exits at once; the server then ends too."""
    import threading
    import time

    def watch() -> None:
        while running(command):
            time.sleep(WATCH_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="watch-command", daemon=True).start()


def running(pid: int) -> bool:
    """Whether the process runs: it exists and is not a zombie (ended, not yet reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc (not Linux): it exists


def in_order(tasks: Iterable[tuple[int, Callable, tuple]], *, workers: int) -> Iterator:
    """`fn(*args)` of every task `(chunks, fn, args)`, in the tasks' order (`chunks`: how many
    tasks the pass has). With `workers` > 0 and more than one chunk the calls run in worker
    processes, at most `workers` at a time, while the next task's arguments are produced (read)
    here: memory holds at most `workers` + 1 chunks' inputs. A worker's exception is raised here."""
    tasks = iter(tasks)
    first = next(tasks, None)
    if first is None:
        return
    chunks = first[0]
    if workers <= 0 or chunks <= 1:
        for _chunks, fn, args in itertools.chain([first], tasks):
            yield fn(*args)
        return
    pending: deque[Future] = deque()
    pool = _pool(min(workers, chunks))
    try:
        for _chunks, fn, args in itertools.chain([first], tasks):
            pending.append(pool.submit(fn, *args))
            del args  # the pool holds them until the call is done
            while len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    except BrokenProcessPool:
        raise WorkerLost("a worker process ended before its part of the work was done (killed, or out of "
                         "memory); nothing was written. Run again, or set [scale] evaluation_workers = 0 (or, for "
                         "the lists, a smaller chunk_patients) in the config file") from None
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
