"""The cohort evaluated a chunk of patients at a time, so memory stays flat whatever its size.

A chunk is a range of consecutive patient ids (`[scale] chunk_patients` patients); every table,
the acknowledgements, contacts and reminders are read for that range only, in one read
transaction for the whole pass (one consistent view of the database). The rules are per patient,
so a chunk's results are the cohort's results for its patients: the callers merge the chunks'
sorted rows (formats.spool) into the order of the whole list. Reading stays here, on the pass's
connection; evaluating a chunk (services.chunk_work) runs in a worker process meanwhile
(services.chunk_workers, `[scale] evaluation_workers`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Iterator

import pandas as pd
from sqlalchemy import Engine

from monitor import store
from monitor.config import Config
from monitor.services.chunk_workers import in_order
from monitor.store.cohort_reads import (
    has_acknowledgements_table,
    load_acknowledgements_part,
    load_cohort_part,
    patient_id_ranges,
)


@dataclass(frozen=True)
class Chunk:
    """One chunk's patients (ids `lo..hi`), read on the pass's connection."""

    conn: object
    id_range: tuple[int, int]
    number: int
    total: int
    has_acks: bool  # whether the database has the acknowledgements table

    def acknowledgements(self) -> pd.DataFrame:
        return load_acknowledgements_part(self.conn, self.id_range, has_table=self.has_acks)


def chunks(engine: Engine, *, config: Config, progress=None) -> Iterator[Chunk]:
    """The cohort's chunks, in patient id order, on one read-only connection."""
    step = progress or (lambda _message: None)
    store.require_initialised(engine)
    with store.reading(engine) as conn:  # one transaction (autobegin): one view of the data
        if conn.dialect.name == "postgresql":  # a snapshot for the whole pass, not one per query
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        ranges = patient_id_ranges(conn, config.scale.chunk_patients)
        has_acks = has_acknowledgements_table(conn)
        for number, id_range in enumerate(ranges, start=1):
            if len(ranges) > 1:
                step(f"evaluating chunk {number} of {len(ranges)}")
            yield Chunk(conn, id_range, number, len(ranges), has_acks)


def due_chunks(engine: Engine, *, as_of: date, config: Config, statuses: tuple[str, ...] = (),
               progress=None, finish) -> Iterator:
    """Per chunk, `finish(rows)` of its part of the surveillance list (services.exports.due_list),
    most overdue first (done where the chunk is evaluated: a picklable function)."""
    from monitor.services.chunk_work import due_part
    from monitor.store.reminders import load_contacts, load_reminders

    def tasks():
        for chunk in chunks(engine, config=config, progress=progress):
            conn, ids = chunk.conn, chunk.id_range
            yield chunk.total, due_part, (load_cohort_part(conn, ids), chunk.acknowledgements(),
                                          load_reminders(conn, ids), load_contacts(conn, ids), as_of, config, statuses,
                                          finish)
    return in_order(tasks(), workers=config.scale.evaluation_workers)


def flag_chunks(engine: Engine, *, as_of: date, config: Config, min_severity: str = "info",
                codes: tuple[str, ...] = (), progress=None, finish) -> Iterator:
    """Per chunk, `finish(rows)` of its flags marked acknowledged, with MRNs
    (rules.evaluation.flag_rows; done where the chunk is evaluated)."""
    from monitor.services.chunk_work import flags_part

    def tasks():
        for chunk in chunks(engine, config=config, progress=progress):
            yield chunk.total, flags_part, (load_cohort_part(chunk.conn, chunk.id_range), chunk.acknowledgements(),
                                            as_of, config, min_severity, codes, finish)
    return in_order(tasks(), workers=config.scale.evaluation_workers)
