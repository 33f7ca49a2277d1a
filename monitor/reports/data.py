"""What a patient report shows, gathered once: pure slices of an evaluated cohort."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date

import pandas as pd

from monitor.rules.cohort import Cohort
from monitor.config import Config
from monitor.rules.trends import trend_table


@dataclass(frozen=True)
class PatientReport:
    """One patient's history as of a date, with its trend table, schedule row and flags."""

    as_of: date
    patient: pd.Series
    history: Cohort  # known on as_of
    trend: pd.DataFrame
    schedule: pd.Series | None  # None for a patient who is not active
    flags: pd.DataFrame
    config: Config
    # The patient's reminders, newest first: objects with `header` (text) and `rows` (dicts with at, by,
    # event, outcome, detail, note; times already in the clinic's zone). Empty when not gathered.
    reminders: tuple = ()

    @property
    def mrn(self) -> str:
        return str(self.patient["mrn"])


def patient_reports(evaluation, config: Config, patient_ids, reminders: dict | None = None):
    """PatientReport objects for the given patients, slicing the cohort's frames once (a generator).
    `reminders`: per patient id, that patient's reminder histories (services.reminders.patient_histories)."""
    history = evaluation.cohort.known_on(evaluation.as_of)
    trend = trend_table(history.scans, settings=config.trend)
    groups = {f.name: getattr(history, f.name).groupby("patient_id").indices for f in fields(history)}
    trend_groups = trend.groupby("patient_id").indices
    flag_groups = evaluation.flags.groupby("patient_id").indices
    sched = evaluation.schedule.set_index("patient_id")
    patients = history.patients.set_index("patient_id", drop=False)

    def take(frame: pd.DataFrame, index: dict, pid: int) -> pd.DataFrame:
        rows = index.get(pid)
        return frame.iloc[rows].reset_index(drop=True) if rows is not None else frame.iloc[0:0]

    for pid in patient_ids:
        one = Cohort(**{f.name: take(getattr(history, f.name), groups[f.name], pid) for f in fields(history)})
        yield PatientReport(
            as_of=evaluation.as_of,
            patient=patients.loc[pid],
            history=one,
            trend=take(trend, trend_groups, pid),
            schedule=sched.loc[pid] if pid in sched.index else None,
            flags=take(evaluation.flags, flag_groups, pid),
            config=config,
            reminders=tuple((reminders or {}).get(pid, ())),
        )
