"""The cohort on one date: schedule and flags together, and the lists staff read from them.

Pure: frames in, frames out, with an explicit `as_of`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from monitor.config import Config
from monitor.rules.cohort import Cohort
from monitor.rules.acknowledgements import mark_acknowledged, unacknowledged
from monitor.rules.flag_frames import SEVERITY_RANK, as_categories, join_by, lookup, severity_rank, sort_flags
from monitor.rules.flags import evaluate_flags
from monitor.rules.schedule import risk_factor_table, schedule
from monitor.rules.worklist import DUE_ORDER


EXPORT_COLUMNS = ["mrn", "name", "status", "due_date", "days_overdue", "last_scan_date",
                  "interval_months", "risk_factors", "flags", "as_of",
                  # v2: how to reach the patient and where staff stand with the reminder
                  "phone", "preferred_contact", "reminder_state", "last_outreach_on", "assigned_to", "reminder_note"]


@dataclass(frozen=True)
class Evaluation:
    """The cohort on one date: the schedule of every active patient and every flag."""

    as_of: date
    cohort: Cohort
    schedule: pd.DataFrame
    flags: pd.DataFrame


def evaluate(cohort: Cohort, *, as_of: date, config: Config, evidence: bool = True,
             acknowledgements: pd.DataFrame | None = None, risks: pd.DataFrame | None = None) -> Evaluation:
    """The schedule and the flags; `evidence=False` for callers that show flag codes only.

    With `acknowledgements`, the flags are marked (`acknowledged_by`, `acknowledged_at`) and the
    schedule's `flags` column (the worklists) leaves the acknowledged ones out. `risks`: the
    cohort's `evaluation_risks` when the caller shows them too (computed here otherwise)."""
    cohort = cohort.known_on(as_of)
    # once, for the intervals and the therapy threshold
    risks = evaluation_risks(cohort, config=config) if risks is None else risks
    sched = schedule(cohort, as_of=as_of, settings=config.schedule, risks=risks, pregnancy=config.thresholds)
    flags = evaluate_flags(cohort, as_of=as_of, config=config, evidence=evidence, risks=risks)
    flags = apply_acknowledgements(flags, cohort, acknowledgements, as_of=as_of, config=config, evidence=evidence,
                                   risks=risks)
    distinct = (unacknowledged(flags)[["patient_id", "code"]].drop_duplicates(["patient_id", "code"])
                .sort_values(["patient_id", "code"]))
    codes = join_by(distinct["patient_id"], distinct["code"], ";")
    sched = sched.assign(flags=codes.reindex(sched["patient_id"].to_numpy()).fillna("").to_numpy())
    return Evaluation(as_of, cohort, sched, flags)


def evaluation_risks(cohort: Cohort, *, config: Config) -> pd.DataFrame:
    """The risk factor table the schedule and the thresholds use (cohort cut to `as_of`)."""
    return risk_factor_table(cohort, alcohol_drinks_day=config.prevention.alcohol_drinks_day)


def apply_acknowledgements(flags: pd.DataFrame, cohort: Cohort, acks: pd.DataFrame | None, *, as_of: date,
                           config: Config, evidence: bool, risks: pd.DataFrame | None = None) -> pd.DataFrame:
    """Mark the acknowledged flags. An acknowledgement is matched against the full evidence, so
    the few acknowledged patients are evaluated with it when the caller skipped it."""
    if acks is None or not len(acks):
        return mark_acknowledged(flags, acks if acks is not None else pd.DataFrame())
    if not evidence:
        ids = acks["patient_id"].unique()
        mine = evaluate_flags(cohort.only(ids), as_of=as_of, config=config, evidence=True,
                              risks=None if risks is None else risks.loc[risks["patient_id"].isin(ids)])
        flags = sort_flags(as_categories(pd.concat([flags.loc[~flags["patient_id"].isin(ids)], mine],
                                                   ignore_index=True)))
    return mark_acknowledged(flags, acks)


def due_rows(evaluation: Evaluation, statuses: tuple[str, ...] = (), *, contacts: pd.DataFrame | None = None,
             reminders: pd.DataFrame | None = None) -> pd.DataFrame:
    """The surveillance list with the export's fields, most overdue first.

    `contacts` (phone, preferred_contact) and `reminders` (rules.worklist.patient_reminders) are
    indexed by patient_id; a patient missing from them has blank contacts and reminder state
    `none`. `reminder_detail` and `reminder_work` (not exported) are the state as a sentence, for a table,
    and the state or for an open reminder its last outreach outcome."""
    frame = evaluation.schedule
    if statuses:
        frame = frame.loc[frame["status"].isin(statuses)]
    ids = frame["patient_id"]

    def pick(source: pd.DataFrame | None, column: str, fill: str) -> pd.Series:
        if source is None or column not in source:
            return pd.Series(fill, index=frame.index, dtype="object")
        return lookup(ids, source[column]).astype("object").fillna(fill).astype("str")
    out = pd.DataFrame({
        "mrn": frame["mrn"],
        "name": frame["name"],
        "status": frame["status"],
        "due_date": frame["due_date"].dt.strftime("%Y-%m-%d"),
        "days_overdue": frame["days_overdue"].astype("int64"),
        "last_scan_date": frame["last_scan_date"].dt.strftime("%Y-%m-%d").fillna(""),
        "interval_months": frame["interval_months"].astype("int64"),
        "risk_factors": frame["risk_factors"],
        "flags": frame["flags"],
        "as_of": evaluation.as_of.isoformat(),
        "phone": pick(contacts, "phone", ""),
        "preferred_contact": pick(contacts, "preferred_contact", ""),
        "reminder_state": pick(reminders, "reminder_state", "none"),
        "last_outreach_on": pick(reminders, "last_outreach_on", ""),
        "assigned_to": pick(reminders, "assigned_to", ""),
        "reminder_note": pick(reminders, "reminder_note", ""),
        "reminder_detail": pick(reminders, "reminder_detail", "none"),
        "reminder_work": pick(reminders, "work", "none"),
    })
    by, ascending = DUE_ORDER
    out = out.sort_values(by, ascending=ascending, kind="stable")
    return out.reset_index(drop=True)


FLAG_FIELDS = ["mrn", "code", "severity", "title", "evidence", "action", "sources"]
ACK_FIELDS = ["acknowledged_by", "acknowledged_at", "acknowledged_note"]


def flag_rows(flags: pd.DataFrame, patients: pd.DataFrame, *, min_severity: str = "info",
              codes: tuple[str, ...] = ()) -> pd.DataFrame:
    """The flags with the patient's MRN, most severe first, then by MRN and code."""
    flags = flags.loc[severity_rank(flags["severity"]) >= SEVERITY_RANK[min_severity]]
    if codes:
        flags = flags.loc[flags["code"].isin(codes)]
    mrns = patients.set_index("patient_id")["mrn"]
    out = flags.assign(mrn=flags["patient_id"].map(mrns))
    fields = FLAG_FIELDS + [c for c in ACK_FIELDS if c in out.columns]
    return out.iloc[flag_order(out)][fields].reset_index(drop=True)


def flag_order(rows: pd.DataFrame) -> np.ndarray:
    """The positions of flag rows (with `mrn`) most severe first, then by MRN and code; rows alike
    in all three (one patient's flags of one code) keep their order, the rules' (deterministic) one."""
    mrn_index = pd.factorize(rows["mrn"], sort=True)[0]  # integer keys
    code_index = pd.factorize(rows["code"], sort=True)[0]
    return np.lexsort((code_index, mrn_index, -severity_rank(rows["severity"]).to_numpy()))


def sources_list(sources: str) -> list:
    """'2, 4' -> [2, 4]; a named source stays text."""
    return [int(s) if s.strip().isdigit() else s.strip() for s in sources.split(",") if s.strip()]
