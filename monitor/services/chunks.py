"""The cohort evaluated a chunk of patients at a time, so memory stays flat whatever its size.

A chunk is a range of consecutive patient ids (`[scale] chunk_patients` patients); every table,
the acknowledgements, contacts and reminders are read for that range only. The rules are per
patient, so a chunk's results are the cohort's results for its patients: the callers merge the
chunks' sorted rows (formats.spool) into the order of the whole list.

Every chunk of a pass sees one and the same state of the database:
- with no evaluation workers (or one chunk), this process reads every chunk in one read
  transaction and evaluates it (services.chunk_work);
- with `[scale] evaluation_workers`, each worker reads its own chunks and evaluates them
  (services.chunk_workers), so reading takes both cores too. On PostgreSQL every worker's read
  transaction imports the snapshot this process exported (`SET TRANSACTION SNAPSHOT`): the
  same view, exactly. SQLite cannot share a snapshot: this process notes the database's
  `data_version` before the pass and after the last chunk is read; when anything was committed
  in between, the pass raises DataChanged and `consistent` runs it again, read in one
  transaction here.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Callable, Iterator

from sqlalchemy import Engine

from monitor import store
from monitor.config import Config
from monitor.services.chunk_work import Source, read_inputs, read_and_run
from monitor.services.chunk_workers import in_order
from monitor.store.cohort_reads import has_acknowledgements_table, patient_id_ranges


class DataChanged(Exception):
    """Something was committed while workers read a SQLite pass's chunks (see `consistent`)."""


def consistent(run: Callable[[bool], object], progress=None):
    """`run(True)` (chunks read by the workers); when the database changed meanwhile, `run(False)`
    (chunks read here, in one transaction: one view of the data whatever is written)."""
    try:
        return run(True)
    except DataChanged:
        if progress is not None:
            progress("the database changed while it was read: reading it again in one transaction")
        return run(False)


@dataclass(frozen=True)
class Chunk:
    """One chunk's patients (ids `lo..hi`)."""

    id_range: tuple[int, int]
    number: int
    total: int
    has_acks: bool  # whether the database has the acknowledgements table


def chunk_results(engine: Engine, *, config: Config, work: Callable, args: tuple, reminders: bool = False,
                  read_in_workers: bool = True, progress=None) -> Iterator[tuple[tuple[int, int], object]]:
    """Per chunk, in patient id order, its id range and `work(cohort, acknowledgements,
    [reminders, contacts,] *args)` (`work` and `args` picklable: they may run in a worker).
    Raises DataChanged at the end when workers read a SQLite pass that changed meanwhile."""
    step = progress or (lambda _message: None)
    workers = config.scale.evaluation_workers
    store.require_initialised(engine)
    with store.reading(engine) as conn:  # one transaction (autobegin): one view of the data
        if conn.dialect.name == "postgresql":  # a snapshot for the whole pass, not one per query
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with _watch(engine, conn, share=read_in_workers and workers > 0) as (source, changed):
            ranges = patient_id_ranges(conn, config.scale.chunk_patients)
            has_acks = has_acknowledgements_table(conn)
            chunks = [Chunk(id_range, number, len(ranges), has_acks) for number, id_range in enumerate(ranges, 1)]

            def tasks():
                for chunk in chunks:
                    if chunk.total > 1:
                        step(f"evaluating chunk {chunk.number} of {chunk.total}")
                    if source is not None and chunk.total > 1:
                        yield chunk.total, read_and_run, (source, chunk.id_range, chunk.has_acks, reminders, work,
                                                          args)
                    else:
                        yield chunk.total, work, (*read_inputs(conn, chunk.id_range, chunk.has_acks, reminders),
                                                  *args)
            yield from zip(ranges, in_order(tasks(), workers=workers))
            if source is not None and len(chunks) > 1 and changed():  # (a lone chunk is read here: no check)
                raise DataChanged()


@contextmanager
def _watch(engine: Engine, conn, *, share: bool):
    """What workers need to read the pass's view (a Source; None: read here) and a function that
    tells, after the pass, whether that view could have changed under them."""
    unchanged = (None, lambda: False)
    if not share:
        yield unchanged
        return
    url = engine.url
    if conn.dialect.name == "postgresql":
        snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
        if not re.fullmatch(r"[0-9A-Fa-f-]+", snapshot):
            yield unchanged  # not a snapshot id as PostgreSQL writes them: read here
            return
        yield Source(url.render_as_string(hide_password=False), snapshot), lambda: False
        return
    path = store.sqlite_path(engine)
    if conn.dialect.name != "sqlite" or path is None:
        yield unchanged
        return
    side = engine.raw_connection()  # autocommit: sees every commit, unlike a reading transaction
    try:
        def version():
            return side.driver_connection.execute("PRAGMA data_version").fetchone()[0]

        before = version()
        yield Source(url.set(database=str(Path(path).resolve())).render_as_string(hide_password=False), None), \
            lambda: version() != before
    finally:
        side.close()


def due_chunks(engine: Engine, *, as_of: date, config: Config, statuses: tuple[str, ...] = (),
               progress=None, finish, read_in_workers: bool = True) -> Iterator:
    """Per chunk, `finish(rows)` of its part of the surveillance list (services.exports.due_list),
    most overdue first (done where the chunk is evaluated: a picklable function)."""
    from monitor.services.chunk_work import due_part

    for _range, result in chunk_results(engine, config=config, work=due_part, reminders=True,
                                        args=(as_of, config, statuses, finish), read_in_workers=read_in_workers,
                                        progress=progress):
        yield result


def flag_chunks(engine: Engine, *, as_of: date, config: Config, min_severity: str = "info",
                codes: tuple[str, ...] = (), progress=None, finish, read_in_workers: bool = True) -> Iterator:
    """Per chunk, `finish(rows)` of its flags marked acknowledged, with MRNs
    (rules.evaluation.flag_rows; done where the chunk is evaluated)."""
    from monitor.services.chunk_work import flags_part

    for _range, result in chunk_results(engine, config=config, work=flags_part,
                                        args=(as_of, config, min_severity, codes, finish),
                                        read_in_workers=read_in_workers, progress=progress):
        yield result


def schedule_rows(engine: Engine, *, as_of: date, config: Config, statuses: tuple[str, ...],
                  progress=None):
    """The schedule's rows with these DXA statuses, evaluated a chunk of patients at a time (one
    patient's row is the same whatever else is evaluated with it): the rows of the cohort's
    schedule, in patient id order; memory holds a chunk and the rows kept (the callers sort them)."""
    import pandas as pd

    from monitor.rules.acknowledgements import ACK_COLUMNS
    from monitor.rules.cohort import Cohort
    from monitor.services.chunk_work import schedule_part

    def run(read_in_workers: bool):
        parts = [rows for _range, rows in chunk_results(engine, config=config, work=schedule_part,
                                                        args=(as_of, config, tuple(statuses)),
                                                        read_in_workers=read_in_workers, progress=progress)]
        # no patients at all: the schedule's columns, no rows
        return stacked(parts, lambda: schedule_part(Cohort.from_frames(), pd.DataFrame(columns=ACK_COLUMNS), as_of,
                                                    config, tuple(statuses)))

    return consistent(run, progress)


def stacked(parts: list, empty: Callable):
    """The chunks' frames one under the other, in chunk order, on a fresh index; `empty()` when
    there is no chunk. An empty frame adds nothing (nor changes a column's type)."""
    import pandas as pd

    full = [p for p in parts if len(p)]
    if not full:
        return parts[0] if parts else empty()
    return pd.concat(full, ignore_index=True) if len(full) > 1 else full[0]


def clinic_summary(engine: Engine, *, as_of: date, config: Config, limit: int, progress=None):
    """The clinic report's content (reports.clinic_summary), the cohort evaluated a chunk of
    patients at a time, each chunk's summary added to the ones before as it arrives: memory holds
    a chunk and one summary, whatever the cohort's size."""
    import pandas as pd

    from monitor.reports.clinic_summary import merge, summarise
    from monitor.rules.cohort import Cohort
    from monitor.rules.evaluation import evaluate
    from monitor.rules.worklist import patient_reminders
    from monitor.services.chunk_work import clinic_part

    def run(read_in_workers: bool):
        total = None
        for _range, part in chunk_results(engine, config=config, work=clinic_part, reminders=True,
                                          args=(as_of, config, limit), read_in_workers=read_in_workers,
                                          progress=progress):
            total = part if total is None else merge(total, part)
        if total is None:  # no patients at all: a whole report of zeros
            nobody = evaluate(Cohort.from_frames(), as_of=as_of, config=config)
            total = summarise(nobody, config, patient_reminders(pd.DataFrame(), nobody.schedule), limit=limit)
        return total

    return consistent(run, progress)
