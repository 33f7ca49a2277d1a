"""The cohort evaluated a chunk of patients at a time, so memory stays flat whatever its size.

A chunk is a range of consecutive patient ids (`[scale] chunk_patients` patients); every table,
the acknowledgements, contacts and reminders are read for that range only, in one read
transaction for the whole pass (one consistent view of the database). The rules are per patient,
so a chunk's results are the cohort's results for its patients: the callers merge the chunks'
sorted rows (formats.spool) into the order of the whole list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Iterator

import pandas as pd
from sqlalchemy import Engine

from monitor import store
from monitor.config import Config
from monitor.rules.evaluation import Evaluation, due_rows, evaluate
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


def chunks(engine: Engine, *, config: Config, progress=None, what: str = "evaluating") -> Iterator[Chunk]:
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
                step(f"{what} chunk {number} of {len(ranges)}")
            yield Chunk(conn, id_range, number, len(ranges), has_acks)


def evaluate_chunk(chunk: Chunk, *, as_of: date, config: Config, evidence: bool = True) -> Evaluation:
    """The chunk's schedule and flags, as services.evaluation.evaluate_db gives them for its patients."""
    cohort = load_cohort_part(chunk.conn, chunk.id_range)
    return evaluate(cohort, as_of=as_of, config=config, evidence=evidence,
                    acknowledgements=chunk.acknowledgements())


def due_chunks(engine: Engine, *, as_of: date, config: Config, statuses: tuple[str, ...] = (),
               progress=None) -> Iterator[pd.DataFrame]:
    """Per chunk, its part of the surveillance list (services.exports.due_list), most overdue first."""
    from monitor.rules.reminders import reminder_states
    from monitor.rules.worklist import patient_reminders
    from monitor.store.reminders import load_contacts, load_reminders

    for chunk in chunks(engine, config=config, progress=progress):
        evaluation = evaluate_chunk(chunk, as_of=as_of, config=config, evidence=False)
        states = reminder_states(*load_reminders(chunk.conn, chunk.id_range), zone=config.zone)
        rows = due_rows(evaluation, statuses, contacts=load_contacts(chunk.conn, chunk.id_range),
                        reminders=patient_reminders(states, evaluation.schedule))
        del evaluation, states  # never two chunks' evaluations at once
        yield rows
        del rows


def flag_chunks(engine: Engine, *, as_of: date, config: Config, progress=None) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """Per chunk, its flags marked acknowledged and its patients (services.evaluation.flags_db)."""
    from monitor.rules.acknowledgements import mark_acknowledged
    from monitor.rules.flags import evaluate_flags

    for chunk in chunks(engine, config=config, progress=progress):
        cohort = load_cohort_part(chunk.conn, chunk.id_range)
        acks = chunk.acknowledgements()
        found = mark_acknowledged(evaluate_flags(cohort, as_of=as_of, config=config), acks)
        patients = cohort.patients
        del cohort, acks  # never two chunks' cohorts at once
        yield found, patients
        del found, patients
