"""What is done with one chunk: its rows read (read_inputs), then evaluated (due_part,
flags_part, jobs.nightly_chunks.nightly_part: no database, no file). services.chunk_workers runs
them in a worker process (read_and_run: the worker reads its own chunk, in the pass's view of the
data), or here with `[scale] evaluation_workers = 0`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from monitor import store
from monitor.config import Config
from monitor.rules.cohort import Cohort
from monitor.store.cohort_reads import load_acknowledgements_part, load_cohort_part
from monitor.store.reminders import load_contacts, load_reminders


@dataclass(frozen=True)
class Source:
    """Where a worker reads its chunks: the database (URL with its password: it travels over the
    pool's pipe only) and, on PostgreSQL, the snapshot the pass exported."""

    url: str
    snapshot: str | None = None


def read_inputs(conn, id_range: tuple[int, int], has_acks: bool, reminders: bool) -> tuple:
    """A chunk's cohort and acknowledgements, and with `reminders` its reminders and contacts."""
    inputs = (load_cohort_part(conn, id_range), load_acknowledgements_part(conn, id_range, has_table=has_acks))
    if reminders:
        inputs += (load_reminders(conn, id_range), load_contacts(conn, id_range))
    return inputs


_engines: dict[str, object] = {}  # a worker's engine per database, kept for its next chunk


def read_and_run(source: Source, id_range: tuple[int, int], has_acks: bool, reminders: bool, work, args: tuple):
    """`work(*inputs, *args)` of a chunk read here (a worker), in one read transaction: on
    PostgreSQL in the pass's exported snapshot, so every chunk sees the same data."""
    engine = _engines.get(source.url)
    if engine is None:
        engine = _engines[source.url] = store.make_engine(source.url)
    with store.reading(engine) as conn:
        if source.snapshot is not None:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            # First statement of the transaction; the id was checked to be a snapshot id.
            conn.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{source.snapshot}'")
        inputs = read_inputs(conn, id_range, has_acks, reminders)
    return work(*inputs, *args)


def due_part(cohort: Cohort, acks: pd.DataFrame, reminders: tuple[pd.DataFrame, pd.DataFrame],
             contacts: pd.DataFrame, as_of: date, config: Config, statuses: tuple[str, ...], finish):
    """A chunk's part of the surveillance list (rules.evaluation.due_rows), most overdue first;
    `finish(rows)` of it (the rows cut into text, where they were evaluated)."""
    from monitor.rules.evaluation import due_rows, evaluate
    from monitor.rules.reminders import reminder_states
    from monitor.rules.worklist import patient_reminders

    evaluation = evaluate(cohort, as_of=as_of, config=config, evidence=False, acknowledgements=acks)
    states = reminder_states(*reminders, zone=config.zone)
    rows = due_rows(evaluation, statuses, contacts=contacts, reminders=patient_reminders(states, evaluation.schedule))
    return finish(rows)


def flags_part(cohort: Cohort, acks: pd.DataFrame, as_of: date, config: Config, min_severity: str,
               codes: tuple[str, ...], finish):
    """A chunk's flags marked acknowledged, with MRNs (rules.evaluation.flag_rows' order);
    `finish(rows)` of them."""
    from monitor.rules.acknowledgements import mark_acknowledged
    from monitor.rules.evaluation import flag_rows
    from monitor.rules.flags import evaluate_flags

    found = mark_acknowledged(evaluate_flags(cohort, as_of=as_of, config=config), acks)
    rows = flag_rows(found, cohort.patients, min_severity=min_severity, codes=codes)
    return finish(rows)


def review_part(cohort: Cohort, acks: pd.DataFrame, as_of: date, config: Config, min_severity: str) -> tuple:
    """A chunk's flags that wait for a clinician's review (every row of each waiting patient and
    code: what rules.acknowledgements.review_list reads) and its patients' MRNs and names."""
    from monitor.rules.acknowledgements import mark_acknowledged, waiting_rows
    from monitor.rules.flags import evaluate_flags

    flags = mark_acknowledged(evaluate_flags(cohort, as_of=as_of, config=config), acks)
    return waiting_rows(flags, min_severity=min_severity), cohort.patients[["patient_id", "mrn", "name"]]


def schedule_part(cohort: Cohort, acks: pd.DataFrame, as_of: date, config: Config,
                  statuses: tuple[str, ...]) -> pd.DataFrame:
    """A chunk's schedule rows with these DXA statuses (rules.evaluation.evaluate's schedule)."""
    from monitor.rules.evaluation import evaluate

    schedule = evaluate(cohort, as_of=as_of, config=config, evidence=False, acknowledgements=acks).schedule
    return schedule.loc[schedule["status"].isin(statuses)].reset_index(drop=True)


def clinic_part(cohort: Cohort, acks: pd.DataFrame, reminders: tuple[pd.DataFrame, pd.DataFrame],
                contacts: pd.DataFrame, as_of: date, config: Config, limit: int):
    """A chunk's clinic summary (reports.clinic_summary.summarise, with its reminder states)."""
    from monitor.reports.clinic_summary import summarise
    from monitor.rules.evaluation import evaluate
    from monitor.rules.reminders import reminder_states
    from monitor.rules.worklist import patient_reminders

    evaluation = evaluate(cohort, as_of=as_of, config=config, acknowledgements=acks)
    states = reminder_states(*reminders, zone=config.zone)
    return summarise(evaluation, config, patient_reminders(states, evaluation.schedule), limit=limit)


def web_part(cohort: Cohort, acks: pd.DataFrame, as_of: date, config: Config):
    """A chunk's part of the web workspace's cohort (services.web_cache.web_facts)."""
    from monitor.rules.evaluation import evaluate
    from monitor.services.web_cache import web_facts

    return web_facts(evaluate(cohort, as_of=as_of, config=config, evidence=True, acknowledgements=acks))
