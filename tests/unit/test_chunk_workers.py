"""services.chunk_workers: results in the tasks' order, in worker processes or here."""

from __future__ import annotations

import os

import pytest

from monitor.services.chunk_workers import in_order


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
