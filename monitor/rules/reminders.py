"""Reminder state and the nightly plan: pure functions of frames and an explicit `as_of`.

A reminder is keyed by (patient, item, due date), so a rerun, a restart or a second process
can never create it twice. Its history is append-only events; its state is derived from them:
created -> open; deferred -> deferred (reopens on its expiry date); reopened -> open;
closed -> closed. Sent, outreach and assigned events record work without changing the state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from monitor.errors import MonitorError
from monitor.rules.flag_frames import lookup

OUTCOMES = ("contacted", "booked", "scan_done_elsewhere", "declined", "unreachable")
STATE_EVENTS = {"created": "open", "reopened": "open", "deferred": "deferred", "closed": "closed"}
REMINDER_COLUMNS = ["reminder_id", "patient_id", "item", "due_date"]
EVENT_COLUMNS = ["event_id", "reminder_id", "at", "actor", "kind", "outcome", "reason", "until", "assignee", "due_by",
                 "booked_on"]
ITEM_DXA = "dxa"


def reminder_states(reminders: pd.DataFrame, events: pd.DataFrame, *, zone: ZoneInfo | str = "UTC") -> pd.DataFrame:
    """Each reminder with its state, deferral (until, reason), whether it was sent, its last
    outreach (outcome, note, when, its clinic-local date `last_outreach_on` in `zone`, the booked
    appointment `booked_on`) and its assignment (`assignee`, "" when none; `due_by`)."""
    out = reminders[REMINDER_COLUMNS].copy()
    if "opened_as_of" in reminders:
        out["opened_as_of"] = reminders["opened_as_of"]
    events = events.reindex(columns=EVENT_COLUMNS)  # frames from before v2 lack the assignment fields
    # Recording order, not clock time: two machines' clocks may disagree, ids never do.
    ev = events.sort_values("event_id", kind="stable")
    rid = out["reminder_id"]

    def last(kind_mask) -> pd.DataFrame:
        return ev.loc[kind_mask].groupby("reminder_id").tail(1).set_index("reminder_id")

    def each(frame: pd.DataFrame, column: str) -> pd.Series:
        return rid.map(frame[column].to_dict()).astype("object")

    def days(values: pd.Series) -> pd.Series:
        return pd.to_datetime(values).astype("datetime64[us]")

    changes = last(ev["kind"].isin(tuple(STATE_EVENTS)))
    out["state"] = rid.map(changes["kind"].map(STATE_EVENTS).to_dict()).astype("object").fillna("open").astype("str")
    until = changes["until"].where(changes["kind"] == "deferred")
    out["deferred_until"] = days(lookup(rid, until))
    out["state_reason"] = each(changes, "reason")
    out["deferred_reason"] = out["state_reason"].where(out["state"] == "deferred").fillna("").astype("str")
    sent = set(ev.loc[ev["kind"] == "sent", "reminder_id"])
    out["was_sent"] = rid.isin(sent)
    outreach = last(ev["kind"] == "outreach")
    out["last_outreach"] = each(outreach, "outcome").fillna("").astype("str")
    out["last_outreach_note"] = each(outreach, "reason").fillna("").astype("str")
    out["last_outreach_at"] = pd.to_datetime(rid.map(outreach["at"].to_dict()), utc=True)
    zone = ZoneInfo(zone) if isinstance(zone, str) else zone
    out["last_outreach_on"] = days(out["last_outreach_at"].dt.tz_convert(zone).dt.tz_localize(None).dt.normalize())
    booked = outreach["booked_on"].where(outreach["outcome"] == "booked")
    out["booked_on"] = days(rid.map(booked.to_dict()))
    assigned = last(ev["kind"] == "assigned")
    out["assignee"] = each(assigned, "assignee").fillna("").astype("str")
    due_by = assigned["due_by"].where(assigned["assignee"].fillna("") != "")
    out["due_by"] = days(rid.map(due_by.to_dict()))
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
    due_now = pd.to_datetime(lookup(live["patient_id"], current["due_date"]))
    stale = live.loc[due_now.isna() | (due_now != live["due_date"])]
    if len(stale):
        status = stale["patient_id"].map(patients.set_index("patient_id")["status"].to_dict())
        new_due = due_now.loc[stale.index]
        last_scan = pd.to_datetime(lookup(stale["patient_id"], current["last_scan_date"]))
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


LIVE_STATES = ("open", "deferred")
ID_PREFIX = "id:"


@dataclass(frozen=True)
class Target:
    """What a staff action is aimed at: one reminder id, or every reminder of one patient (MRN)."""

    reminder_ids: tuple[int, ...]
    mrn: str | None  # set when the argument was read as an MRN


def _one_line(r) -> str:
    until = f" until {r.deferred_until:%Y-%m-%d}" if r.state == "deferred" and not pd.isna(r.deferred_until) else ""
    return f"  id:{int(r.reminder_id)}  {str(r.item).upper()} due {r.due_date:%Y-%m-%d}, {r.state}{until}"


def find_target(key: str, *, patients: pd.DataFrame, states: pd.DataFrame) -> Target:
    """Read a staff argument as a reminder id or an MRN (the documented rule, in this order):

    1. `id:12` is always reminder 12;
    2. a value that is a patient's MRN is that MRN (MRNs are text: `007` or `12` may be MRNs);
    3. otherwise a whole number that is a reminder's id is that reminder.
    `patients` has patient_id and mrn; `states` is `reminder_states(...)`."""
    key = key.strip()
    ids = set(states["reminder_id"].astype("int64"))
    if key.lower().startswith(ID_PREFIX):
        number = key[len(ID_PREFIX):].strip()
        if not number.isdigit() or int(number) not in ids:
            raise MonitorError(f"no reminder with id {number or '(none given)'}")
        return Target((int(number),), None)
    match = patients.loc[patients["mrn"] == key, "patient_id"]
    if len(match):
        mine = states.loc[states["patient_id"] == int(match.iloc[0])].sort_values("reminder_id")
        return Target(tuple(int(i) for i in mine["reminder_id"]), key)
    if key.isdigit() and int(key) in ids:
        return Target((int(key),), None)
    also = f" and no reminder with id {key}" if key.isdigit() else ""
    raise MonitorError(f"no patient with MRN '{key}'{also}")


def pick_reminder(target: Target, states: pd.DataFrame, *, action: str) -> int:
    """The one reminder an action by MRN means: the patient's only live (open or deferred) one;
    to reopen, a deferred one or the latest if it is closed. None or several: an error that says
    what to type next (several are listed with id, item, due date and state, never a name)."""
    if target.mrn is None:
        return target.reminder_ids[0]
    mine = states.loc[states["reminder_id"].isin(target.reminder_ids)].sort_values("reminder_id")
    if action == "reopened":
        latest = mine["reminder_id"].max() if len(mine) else None
        candidates = mine.loc[(mine["state"] == "deferred") | ((mine["state"] == "closed")
                                                                & (mine["reminder_id"] == latest))]
        what = "no deferred or closed reminder to reopen"
    else:
        candidates = mine.loc[mine["state"].isin(LIVE_STATES)]
        what = "no open or deferred reminder"
    if len(candidates) == 1:
        return int(candidates["reminder_id"].iloc[0])
    if not len(candidates):
        raise MonitorError(f"{target.mrn} has {what}; `monitor reminders --all` lists every reminder and "
                           f"`monitor reminders history {target.mrn}` shows this patient's")
    listed = "\n".join(_one_line(r) for r in candidates.itertuples(index=False))
    raise MonitorError(f"{target.mrn} has {len(candidates)} reminders this could mean; give the id instead of the "
                       f"MRN (e.g. id:{int(candidates['reminder_id'].iloc[0])}):\n{listed}")
