"""Reminder state and the nightly plan: pure functions of frames and an explicit `as_of`.

A reminder is keyed by (patient, item, due date), so a rerun, a restart or a second process
can never create it twice. Its history is append-only events; its state is derived from them:
created -> open; deferred -> deferred (reopens on its expiry date); reopened -> open;
closed -> closed. Sent and outreach events record work without changing the state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

OUTCOMES = ("contacted", "booked", "scan_done_elsewhere", "declined", "unreachable")
STATE_EVENTS = {"created": "open", "reopened": "open", "deferred": "deferred", "closed": "closed"}
REMINDER_COLUMNS = ["reminder_id", "patient_id", "item", "due_date"]
EVENT_COLUMNS = ["event_id", "reminder_id", "at", "actor", "kind", "outcome", "reason", "until"]
ITEM_DXA = "dxa"


def reminder_states(reminders: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Each reminder with its state, deferral expiry, whether it was sent, and its last outreach."""
    out = reminders[REMINDER_COLUMNS].copy()
    if "opened_as_of" in reminders:
        out["opened_as_of"] = reminders["opened_as_of"]
    # Recording order, not clock time: two machines' clocks may disagree, ids never do.
    ev = events.sort_values("event_id", kind="stable")
    changes = ev.loc[ev["kind"].isin(tuple(STATE_EVENTS))].groupby("reminder_id").tail(1).set_index("reminder_id")
    out["state"] = out["reminder_id"].map(changes["kind"].map(STATE_EVENTS).to_dict()).astype("object").fillna("open").astype("str")
    until = changes["until"].where(changes["kind"] == "deferred")
    out["deferred_until"] = pd.to_datetime(out["reminder_id"].map(until.to_dict()))
    out["state_reason"] = out["reminder_id"].map(changes["reason"].to_dict()).astype("object")
    sent = set(ev.loc[ev["kind"] == "sent", "reminder_id"])
    out["was_sent"] = out["reminder_id"].isin(sent)
    outreach = ev.loc[ev["kind"] == "outreach"].groupby("reminder_id").tail(1).set_index("reminder_id")
    out["last_outreach"] = out["reminder_id"].map(outreach["outcome"].to_dict()).astype("object").fillna("").astype("str")
    out["last_outreach_at"] = pd.to_datetime(out["reminder_id"].map(outreach["at"].to_dict()), utc=True)
    return out


@dataclass(frozen=True)
class NightlyPlan:
    """What the nightly run writes: new reminders, reminders to close (with why), to reopen."""

    new: pd.DataFrame  # patient_id, item, due_date
    close: pd.DataFrame  # reminder_id, reason
    reopen: pd.DataFrame  # reminder_id, reason


def plan_nightly(schedule: pd.DataFrame, states: pd.DataFrame, patients: pd.DataFrame, *, as_of: date,
                 remind_statuses: tuple[str, ...]) -> NightlyPlan:
    """The reminder changes for `as_of`, given the schedule and the reminders as they stand."""
    as_of_ts = pd.Timestamp(as_of)
    wanted = schedule.loc[schedule["status"].isin(remind_statuses), ["patient_id", "due_date"]].assign(item=ITEM_DXA)
    keys = states[["patient_id", "item", "due_date", "reminder_id"]]
    merged = wanted.merge(keys, on=["patient_id", "item", "due_date"], how="left")
    new = merged.loc[merged["reminder_id"].isna(), ["patient_id", "item", "due_date"]].reset_index(drop=True)

    current = schedule.set_index("patient_id")
    live = states.loc[states["state"].isin(("open", "deferred")) & (states["item"] == ITEM_DXA)]
    if "opened_as_of" in states:
        # A run for an earlier day never closes what a run for a later day opened: it cannot
        # know the scans and due dates that later day saw.
        live = live.loc[~(live["opened_as_of"] > as_of_ts)]
    due_now = pd.to_datetime(live["patient_id"].map(current["due_date"].to_dict()))
    stale = live.loc[due_now.isna() | (due_now != live["due_date"])]
    if len(stale):
        status = stale["patient_id"].map(patients.set_index("patient_id")["status"].to_dict())
        new_due = due_now.loc[stale.index]
        last_scan = pd.to_datetime(stale["patient_id"].map(current["last_scan_date"].to_dict()))
        reason = np.where(
            new_due.isna(), "patient is " + status.fillna("no longer enrolled").astype(str) + ": surveillance paused",
            "next scan now due " + new_due.dt.strftime("%Y-%m-%d").fillna("") + " (last scan "
            + last_scan.dt.strftime("%Y-%m-%d").fillna("none") + ")")
        close = pd.DataFrame({"reminder_id": stale["reminder_id"].to_numpy(), "reason": reason})
    else:
        close = pd.DataFrame(columns=["reminder_id", "reason"])
    expired = states.loc[(states["state"] == "deferred") & (states["deferred_until"] <= as_of_ts)
                         & ~states["reminder_id"].isin(close["reminder_id"])]
    reopen = pd.DataFrame({"reminder_id": expired["reminder_id"].to_numpy(),
                           "reason": ("deferral expired on " + expired["deferred_until"].dt.strftime("%Y-%m-%d")).to_numpy()})
    return NightlyPlan(new, close.reset_index(drop=True), reopen)
