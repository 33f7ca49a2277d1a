"""What the clinic report shows, as numbers that add up over chunks of patients.

`summarise` takes one evaluation (a chunk of patients, or the whole cohort) and keeps what the
report prints: counts, the value counts behind each median (so a median of the whole is exact),
and the first `limit` rows of each list with everything a row needs. `merge` adds the summaries
of two disjoint sets of patients into the summary of both: the rules are per patient, and each
list's order is total, so the first rows of the whole are among the first rows of the chunk each
came from. Memory holds one chunk and one summary, whatever the cohort's size. Pure: frames in,
frames out; never queries, never reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from monitor.config import Config
from monitor.rules.worklist import DUE_ORDER

STATUS_ORDER = ("not_due", "due_soon", "due", "overdue")
LOST_DAYS = 365  # overdue more than a year: lost to follow-up unless someone acts


@dataclass(frozen=True)
class ClinicSummary:
    """The clinic report's content for a set of patients (see the module's note)."""

    as_of: date
    limit: int  # rows of the due list and patients of the annex kept
    status: dict  # active patients per DXA status (STATUS_ORDER)
    overdue_days: pd.Series  # days past due (float) -> overdue patients
    urgent_patients: int
    flag_patients: pd.DataFrame  # severity, code, n: patients per urgent or warning flag
    reminders: dict | None  # active patients by reminder work; None: the report has no reminder section
    quarters: pd.DataFrame  # per quarter: its counts (clinic_trends.quarter_counts)
    quarter_days: pd.DataFrame  # quarter, measure, days, n: the values behind the quarterly medians
    due_total: int  # due and overdue patients
    due: pd.DataFrame  # the first `limit` of them (rules.evaluation.due_rows), each with its flag `titles`
    annex_counts: dict  # urgent, rows, patients, acknowledged, info
    annex: pd.DataFrame  # the annex rows of its first `limit` patients (reports.annex.annex_flags)
    annex_codes: pd.DataFrame  # the first annex row of each flag code

    @property
    def active(self) -> int:
        return sum(self.status.values())

    @property
    def trends(self) -> pd.DataFrame:
        from monitor.reports.clinic_trends import trends_table

        return trends_table(self.quarters, self.quarter_days)


def median_of_counts(counts: pd.Series) -> float:
    """The median of the values counted (`counts`: value -> how many), as pandas takes it of the
    values themselves: the middle one, or halfway between the two middle ones; NaN for none."""
    counts = counts[counts > 0].sort_index()
    n = int(counts.sum())
    if not n:
        return float("nan")
    upto = counts.cumsum().to_numpy()
    values = counts.index.to_numpy(dtype=float)
    low, high = values[np.searchsorted(upto, (n - 1) // 2 + 1)], values[np.searchsorted(upto, n // 2 + 1)]
    return float((low + high) / 2)


def value_counts(values: pd.Series) -> pd.Series:
    """Value -> how many, by value (floats: a chunk's and another's add up on one index)."""
    return values.astype(float).value_counts().sort_index()


def summarise(evaluation, config: Config, reminders: pd.DataFrame | None = None, *, limit: int) -> ClinicSummary:
    """The clinic report's content for the evaluated patients. `reminders`: per patient, the
    reminder state (rules.worklist.patient_reminders); None: no reminder section."""
    from monitor.reports.clinic_trends import quarter_counts
    from monitor.reports.due_list import flag_titles
    from monitor.rules.evaluation import due_rows
    from monitor.rules.worklist import work_counts

    sched, flags = evaluation.schedule, evaluation.flags
    status = sched["status"].astype(str).value_counts()
    serious = flags.loc[flags["severity"].isin(("urgent", "warn"))]
    by_code = (pd.DataFrame({"severity": serious["severity"].astype(str).to_numpy(),
                             "code": serious["code"].astype(str).to_numpy(),
                             "patient_id": serious["patient_id"].to_numpy()})
               .groupby(["severity", "code"])["patient_id"].nunique().reset_index(name="n"))
    quarters, quarter_days = quarter_counts(evaluation, config)
    due = due_rows(evaluation, ("due", "overdue"), reminders=reminders)
    shown = due.head(limit)
    shown = shown.assign(titles=flag_titles(evaluation, shown["mrn"]).to_numpy())
    return ClinicSummary(
        as_of=evaluation.as_of, limit=limit,
        status={s: int(status.get(s, 0)) for s in STATUS_ORDER},
        overdue_days=value_counts(sched.loc[sched["status"] == "overdue", "days_overdue"]),
        urgent_patients=int(flags.loc[flags["severity"] == "urgent", "patient_id"].nunique()),
        flag_patients=by_code,
        reminders=None if reminders is None else work_counts(reminders, sched["patient_id"]),
        quarters=quarters, quarter_days=quarter_days,
        due_total=len(due), due=shown.reset_index(drop=True), **annex_part(evaluation, limit=limit))


def annex_part(evaluation, *, limit: int) -> dict:
    """The summary's annex fields: the counts, the rows of the first `limit` patients, the first
    row of each flag code (reports.annex.annex_flags)."""
    from monitor.reports.annex import annex_flags

    rows, left_out = annex_flags(evaluation)
    patients = rows["mrn"].drop_duplicates()
    return {"annex_counts": {"urgent": int((rows["severity"] == "urgent").sum()), "rows": len(rows),
                             "patients": len(patients), **left_out},
            "annex": rows.loc[rows["mrn"].isin(set(patients.iloc[:limit]))].reset_index(drop=True),
            "annex_codes": rows.drop_duplicates("code").reset_index(drop=True)}


def merge(a: ClinicSummary, b: ClinicSummary) -> ClinicSummary:
    """The summary of `a`'s patients and `b`'s (no patient in both), as `summarise` gives it of
    them all."""
    from monitor.reports.annex import annex_order

    if a.as_of != b.as_of or a.limit != b.limit:
        raise ValueError("clinic summaries of different dates or limits do not add up")
    flag_patients = pd.concat([a.flag_patients, b.flag_patients], ignore_index=True)
    due = _stacked(a.due, b.due).sort_values(DUE_ORDER[0], ascending=DUE_ORDER[1], kind="stable")
    annex = annex_order(_stacked(a.annex, b.annex))
    first = set(annex["mrn"].drop_duplicates().iloc[:a.limit])
    return ClinicSummary(
        as_of=a.as_of, limit=a.limit,
        status={s: a.status[s] + b.status[s] for s in STATUS_ORDER},
        overdue_days=_added(a.overdue_days, b.overdue_days),
        urgent_patients=a.urgent_patients + b.urgent_patients,
        flag_patients=flag_patients.groupby(["severity", "code"])["n"].sum().reset_index(),
        reminders=None if a.reminders is None else {k: a.reminders[k] + b.reminders[k] for k in a.reminders},
        quarters=_summed(a.quarters, b.quarters, ["quarter", "on"]),
        quarter_days=_summed(a.quarter_days, b.quarter_days, ["quarter", "measure", "days"]),
        due_total=a.due_total + b.due_total, due=due.head(a.limit).reset_index(drop=True),
        annex_counts={k: a.annex_counts[k] + b.annex_counts[k] for k in a.annex_counts},
        annex=annex.loc[annex["mrn"].isin(first)].reset_index(drop=True),
        annex_codes=annex_order(_stacked(a.annex_codes, b.annex_codes)).drop_duplicates("code")
        .reset_index(drop=True))


def _stacked(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """`a` then `b` (an empty one adds nothing, nor changes a column's type)."""
    if not len(b):
        return a
    if not len(a):
        return b
    return pd.concat([a, b], ignore_index=True)


def _added(a: pd.Series, b: pd.Series) -> pd.Series:
    return a.add(b, fill_value=0).astype("int64").sort_index()


def _summed(a: pd.DataFrame, b: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Rows of `a` and `b` with the same keys added up, in key order."""
    both = pd.concat([a, b], ignore_index=True)
    return both.groupby(keys, sort=True).sum().reset_index()
