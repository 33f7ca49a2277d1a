"""The reminder worklist staff work, and the reminder state shown wherever a patient is listed.

Pure: reminder states (rules.reminders.reminder_states) and an evaluation in, frames out.
"""

from __future__ import annotations

import pandas as pd

from monitor.rules.acknowledgements import unacknowledged
from monitor.rules.flag_frames import lookup

# The order of the lists staff work, the surveillance list (rules.evaluation.due_rows) and the
# reminders' worklist (reminder_table): most overdue first, then by due date (a blank one last),
# then MRN (one row per patient: the order is total).
DUE_ORDER = (["days_overdue", "due_date", "mrn"], [False, True, True])
URGENT_DEFERRED = "deferred (urgent flag)"
# What a clinic counts reminders by: their state, and for open ones the last outreach outcome.
WORK_ORDER = ("open", "contacted", "booked", "scan_done_elsewhere", "declined", "unreachable", "deferred", "closed")


def _by_patient(ids: pd.Series, values: pd.Series, fill):
    """values (indexed by patient_id, one row per patient) for each id; `fill` where the patient
    has none. A lookup by index, not a dict of every patient's value built per column."""
    found = values.reindex(ids.to_numpy())
    return pd.Series(found.to_numpy(), index=ids.index, dtype="object").fillna(fill)


def _day(values: pd.Series) -> pd.Series:
    return values.dt.strftime("%Y-%m-%d").fillna("")


def _join(*parts: pd.Series) -> pd.Series:
    """Non-empty texts of each row joined by `; ` (vectorised: one pass per part, not per row)."""
    out = parts[0]
    for part in parts[1:]:
        out = (out + "; " + part).where((out != "") & (part != ""), out + part)
    return out


def outreach_text(states: pd.DataFrame) -> pd.Series:
    """The last outreach as staff read it: `unreachable 2026-11-20`, `booked 2026-11-20 for 2026-12-03`."""
    on = _day(states["last_outreach_on"])
    booked = _day(states["booked_on"])
    text = (states["last_outreach"] + " " + on).str.strip()
    return text.where(booked == "", text + " for " + booked).where(states["last_outreach"] != "", "")


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
        "deferred_reason": states["deferred_reason"],
        "last_outreach": outreach_text(states),
        "last_outreach_on": _day(states["last_outreach_on"]),
        "booked_on": _day(states["booked_on"]),
        "assigned_to": states["assignee"],
        "due_by": _day(states["due_by"]),
        "interval_months": _by_patient(ids, sched["interval_months"], 0).astype("int64"),
        "risk_factors": _by_patient(ids, sched["risk_factors"], ""),
        "flags": _by_patient(ids, sched["flags"], ""),
        "was_sent": states["was_sent"],
    })
    by, ascending = DUE_ORDER
    return out.sort_values(by, ascending=ascending).reset_index(drop=True)


def active_only(states: pd.DataFrame, evaluation) -> pd.DataFrame:
    """The reminders of active patients: a patient discharged, transferred or deceased since the
    last nightly run is never called (the next run closes their reminders)."""
    patients = evaluation.cohort.patients
    active = patients.loc[patients["status"] == "active", "patient_id"]
    return states.loc[states["patient_id"].isin(active)]


def worklist(states: pd.DataFrame, evaluation) -> pd.DataFrame:
    """The open reminders of active patients: tonight's worklist."""
    states = active_only(states, evaluation)
    return reminder_table(states.loc[states["state"] == "open"], evaluation)


def urgent_patients(evaluation) -> set[int]:
    """Patients with an urgent flag no clinician has acknowledged."""
    flags = unacknowledged(evaluation.flags)
    return set(flags.loc[flags["severity"] == "urgent", "patient_id"].astype("int64"))


def working_list(states: pd.DataFrame, evaluation) -> pd.DataFrame:
    """The list staff work: the open reminders, and the deferred ones of patients with an
    unacknowledged urgent flag (state `deferred (urgent flag)`): a deferral never hides an
    urgent sign. Only active patients' reminders."""
    states = active_only(states, evaluation)
    urgent = states["patient_id"].isin(urgent_patients(evaluation))
    shown = states.loc[(states["state"] == "open") | ((states["state"] == "deferred") & urgent)]
    table = reminder_table(shown, evaluation)
    return table.assign(state=table["state"].where(table["state"] != "deferred", URGENT_DEFERRED))


def patient_reminders(states: pd.DataFrame, schedule: pd.DataFrame) -> pd.DataFrame:
    """One row per patient with a reminder: the reminder that speaks for the patient now (the one
    for the current due date, else the latest open or deferred one, else the latest), indexed by
    patient_id, with `reminder_state` (open/deferred/closed), `reminder_detail` (the state as a
    sentence: `deferred until 2027-01-15 (patient abroad)`), `reminder_note` (until/why, last
    outreach, assignment, for a CSV), `last_outreach_on`, `assigned_to` and `work` (the state, or
    for an open reminder its last outreach outcome: what a clinic counts)."""
    columns = ["reminder_state", "reminder_detail", "reminder_note", "last_outreach_on", "assigned_to", "work"]
    if not len(states):
        return pd.DataFrame(columns=columns, index=pd.Index([], name="patient_id"))
    due_now = lookup(states["patient_id"], schedule.set_index("patient_id")["due_date"])
    rank = ((pd.to_datetime(due_now) == states["due_date"]).astype(int) * 2
            + states["state"].isin(("open", "deferred")).astype(int))
    chosen = (states.assign(rank=rank).sort_values(["patient_id", "rank", "reminder_id"])
              .groupby("patient_id").tail(1).set_index("patient_id"))
    until = _day(chosen["deferred_until"])
    deferred = chosen["state"] == "deferred"
    why = chosen["deferred_reason"].where(chosen["deferred_reason"] != "", "no reason given")
    closed_why = chosen["state_reason"].fillna("").astype("str")
    detail = chosen["state"].where(~deferred, "deferred until " + until + " (" + why + ")")
    outreach = outreach_text(chosen)
    due_by = _day(chosen["due_by"])
    note = _join(("until " + until + ": " + why).where(deferred, "").where(chosen["state"] != "closed",
                                                                          "closed: " + closed_why),
                 ("last outreach " + outreach).where(outreach != "", ""),
                 ("work by " + due_by).where((due_by != "") & (chosen["assignee"] != ""), ""))
    open_work = chosen["last_outreach"].where(chosen["last_outreach"] != "", "open")
    return pd.DataFrame({
        "reminder_state": chosen["state"],
        "reminder_detail": detail,
        "reminder_note": note.astype("str"),
        "last_outreach_on": _day(chosen["last_outreach_on"]),
        "assigned_to": chosen["assignee"],
        "work": chosen["state"].where(chosen["state"] != "open", open_work),
    })


def work_counts(summary: pd.DataFrame, patient_ids) -> dict[str, int]:
    """Active patients by reminder work (WORK_ORDER, then `none` for patients without a reminder)."""
    work = summary["work"].reindex(pd.Index(patient_ids)).fillna("none")
    counts = work.value_counts()
    return {k: int(counts.get(k, 0)) for k in WORK_ORDER + ("none",)}
