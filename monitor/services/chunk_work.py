"""What is done with one chunk's frames once they are read: evaluation only, no database, no
file (services.chunk_workers runs these in a worker process, or here with `[scale] evaluation_workers = 0`)."""

from __future__ import annotations

from datetime import date

import pandas as pd

from monitor.config import Config
from monitor.rules.cohort import Cohort


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
