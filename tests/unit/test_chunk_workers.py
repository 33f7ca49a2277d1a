"""services.chunk_workers: results in the tasks' order, in worker processes or here."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from monitor.services.chunk_workers import in_order

REPO = Path(__file__).resolve().parents[2]


def square_and_pid(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("three is refused")
    return x


def tasks(fn, n: int, seen: list | None = None):
    for i in range(n):
        if seen is not None:
            seen.append(i)
        yield n, fn, (i,)


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_return_results_in_order_from_other_processes(workers):
    out = list(in_order(tasks(square_and_pid, 9), workers=workers))
    assert [r for r, _pid in out] == [i * i for i in range(9)]
    assert os.getpid() not in {pid for _r, pid in out}


def test_no_workers_or_one_chunk_run_here():
    assert {pid for _r, pid in in_order(tasks(square_and_pid, 4), workers=0)} == {os.getpid()}
    assert {pid for _r, pid in in_order(tasks(square_and_pid, 1), workers=2)} == {os.getpid()}
    assert list(in_order(iter(()), workers=1)) == []


def test_reading_runs_at_most_one_task_ahead_per_worker():
    seen: list[int] = []
    results = in_order(tasks(square_and_pid, 6, seen), workers=1)
    next(results)
    assert len(seen) == 2  # the first result waited while the second chunk was read
    results.close()


def test_a_workers_exception_is_raised_here_and_the_pool_stops():
    with pytest.raises(ValueError, match="three is refused"):
        list(in_order(tasks(fail_on_three, 6), workers=1))


def die(x: int) -> int:
    if x == 2:
        os._exit(9)  # as the out-of-memory killer ends a process: no result, no exception
    return x


def test_a_worker_that_dies_is_a_clear_error_not_a_traceback():
    from monitor.services.chunk_workers import WorkerLost

    with pytest.raises(WorkerLost, match=r"workers = 0"):
        list(in_order(tasks(die, 5), workers=1))


def test_the_workers_server_can_start_before_the_first_chunk():
    """start_early starts the server the pool then uses (it loads pandas and the rules meanwhile)."""
    from multiprocessing import forkserver

    from monitor.services.chunk_workers import start_early

    start_early()
    started = forkserver._forkserver._forkserver_pid
    assert started is not None
    out = list(in_order(tasks(square_and_pid, 3), workers=2))
    assert [r for r, _pid in out] == [0, 1, 4] and forkserver._forkserver._forkserver_pid == started


@pytest.mark.parametrize("patients, workers, early", [(60_000, 2, True), (3_000, 2, False), (60_000, 0, False)])
def test_a_list_starts_the_workers_early_only_on_a_database_of_several_chunks(tmp_path, monkeypatch, patients,
                                                                              workers, early):
    """The size of the SQLite file decides, before the database layer (and pandas) is loaded."""
    from monitor.cli.context import BYTES_PER_PATIENT, AppContext

    db = tmp_path / "monitor.db"
    with db.open("wb") as f:
        f.truncate(patients * BYTES_PER_PATIENT)  # sparse: the size is all that is read
    config = tmp_path / "clinic.toml"
    config.write_text(f"[scale]\nchunk_patients = 10000\nevaluation_workers = {workers}\n")
    started = []
    monkeypatch.setattr("monitor.services.chunk_workers.start_early", lambda: started.append(1))
    AppContext(f"sqlite:///{db}", str(config)).start_workers_early()
    AppContext(str(db), str(config)).start_workers_early()  # a plain path names a SQLite file too
    AppContext(f"sqlite:///{tmp_path / 'missing.db'}", str(config)).start_workers_early()
    assert started == ([1, 1] if early else [])


def touch_and_sleep(folder: str, x: int) -> int:
    Path(folder, f"{os.getpid()}.pid").touch()
    time.sleep(120)
    return x


def _ended(pid: int) -> bool:
    """Gone, or a zombie nobody has reaped yet (it runs no more)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process states from /proc (Linux)")
def test_workers_end_when_the_command_that_started_them_is_killed(tmp_path):
    """A command killed outright (no clean-up) takes its workers and their fork server with it
    within seconds; they used to go on evaluating and drawing for nobody (seen: two orphans busy
    for 15 minutes)."""
    script = ("import sys; sys.path.insert(0, sys.argv[1]); from tests.unit.test_chunk_workers import "
              "touch_and_sleep; from monitor.services.chunk_workers import in_order; "
              "list(in_order(((2, touch_and_sleep, (sys.argv[2], i)) for i in range(2)), workers=2))")
    command = subprocess.Popen([sys.executable, "-c", script, str(REPO), str(tmp_path)])
    try:
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob("*.pid"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = [int(p.stem) for p in tmp_path.glob("*.pid")]
        assert len(workers) == 2 and not any(_ended(pid) for pid in workers)
        # their parent: the fork server (with spawn, the command itself)
        servers = {int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]) for pid in workers}
    finally:
        command.kill()
        command.wait()
    deadline = time.monotonic() + 15
    while not all(_ended(pid) for pid in [*workers, *servers]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert all(_ended(pid) for pid in workers)
    assert all(_ended(pid) for pid in servers)  # the server ends with them: nothing is left running


def sigterm_is_default(_x: int) -> bool:
    import signal

    return signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_import_workers_end_on_sigterm_whatever_the_command_s_handler():
    """A command's SIGTERM handler (raise SystemExit, for its clean-up) is not its import workers':
    the pool stops them with SIGTERM, and one that raised instead was seen left holding the suite."""
    import signal

    from monitor.cli.context import _stop_cleanly_on_sigterm
    from monitor.services.import_workers import worker_pool

    before = signal.getsignal(signal.SIGTERM)
    try:
        _stop_cleanly_on_sigterm()
        with worker_pool(2) as pool:
            assert pool.map(sigterm_is_default, range(4)) == [True] * 4
    finally:
        signal.signal(signal.SIGTERM, before)
