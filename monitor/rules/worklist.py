"""The reminder worklist staff work: reminders with what they need to act, most overdue first."""

from __future__ import annotations

import pandas as pd


def _by_patient(ids: pd.Series, values: pd.Series, fill):
    """values (indexed by patient_id) for each id; `fill` where the patient has none."""
    return ids.map(values.to_dict()).astype("object").fillna(fill)


def reminder_table(states: pd.DataFrame, evaluation) -> pd.DataFrame:
    """Reminders with what staff need to act, most overdue first.

    Status and days overdue are today's for the reminder's due date; a reminder whose due date
    is no longer the patient's current one shows neither.
    """
    sched = evaluation.schedule.set_index("patient_id")
    patients = evaluation.cohort.patients.set_index("patient_id")
    ids = states["patient_id"]
    current = pd.to_datetime(_by_patient(ids, sched["due_date"], pd.NaT)) == states["due_date"]
    out = pd.DataFrame({
        "reminder_id": states["reminder_id"].astype("int64"),
        "mrn": _by_patient(ids, patients["mrn"], ""),
        "name": _by_patient(ids, patients["name"], ""),
        "item": states["item"],
        "due_date": states["due_date"].dt.strftime("%Y-%m-%d"),
        "status": _by_patient(ids, sched["status"], "").where(current, ""),
        "days_overdue": _by_patient(ids, sched["days_overdue"], 0).where(current, 0).astype("int64"),
        "state": states["state"],
        "deferred_until": states["deferred_until"].dt.strftime("%Y-%m-%d").fillna(""),
        "last_outreach": states["last_outreach"],
        "interval_months": _by_patient(ids, sched["interval_months"], 0).astype("int64"),
        "risk_factors": _by_patient(ids, sched["risk_factors"], ""),
        "flags": _by_patient(ids, sched["flags"], ""),
        "was_sent": states["was_sent"],
    })
    return out.sort_values(["days_overdue", "due_date", "mrn"], ascending=[False, True, True]).reset_index(drop=True)


def worklist(states: pd.DataFrame, evaluation) -> pd.DataFrame:
    """The open reminders: tonight's worklist."""
    return reminder_table(states.loc[states["state"] == "open"], evaluation)
