"""Staff working the reminder list: list, outreach, defer, close, reopen, assign, history.

A reminder is named by an MRN or an id (rules.reminders.find_target says how); every action
appends an event with who did it and when, and answers with the patient's MRN and name so a
typo never goes unnoticed; nothing is edited or deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import pandas as pd
from sqlalchemy import Engine

from monitor import store
from monitor.config import Config
from monitor.errors import MonitorError
from monitor.rules.clock_text import local_text
from monitor.rules.reminders import OUTCOMES, find_target, pick_reminder, reminder_states
from monitor.rules.worklist import DUE_ORDER, active_only, patient_reminders, reminder_table, working_list
from monitor.store.reminders import load_patient_names, load_reminders

LIST_COLUMNS = ["reminder_id", "mrn", "name", "item", "due_date", "status", "days_overdue", "state",
                "deferred_until", "last_outreach", "assigned_to", "due_by", "flags"]
BOOKED_PAST_DAYS = 30
BOOKED_AHEAD_DAYS = 731  # two years


def _states(conn, config: Config, *, patient_id: int | None = None) -> pd.DataFrame:
    """Every reminder's state, or one patient's (a reminder's state depends on its own events only)."""
    return reminder_states(*load_reminders(conn, patient_id=patient_id), zone=config.zone)


def list_reminders(engine: Engine, *, as_of: date, config: Config, states: tuple[str, ...] | None = None,
                   assigned_to: str | None = None, unassigned: bool = False, progress=None) -> pd.DataFrame:
    """The worklist (states None: the open reminders and the deferred ones of patients with an
    urgent flag), or the reminders in `states` (empty: all), optionally by assignee.

    Evaluated a chunk of patients at a time (services.chunks, in the evaluation workers), each
    chunk with its own reminders: a reminder belongs to one patient, and rows that sort alike are
    one patient's (the order ends on the MRN), so the chunks' rows sorted together (stably) are
    the list of the cohort at once, as in the nightly run."""
    from monitor.services.chunks import chunk_results, consistent, stacked

    def run(read_in_workers: bool) -> pd.DataFrame:
        return stacked([part for _range, part in chunk_results(
            engine, config=config, work=reminder_list_part, args=(as_of, config, states), reminders=True,
            read_in_workers=read_in_workers, progress=progress)], lambda: pd.DataFrame(columns=LIST_COLUMNS))

    out = consistent(run, progress)
    by, ascending = DUE_ORDER  # rules.worklist.reminder_table's order, over the chunks' rows together
    out = out.sort_values(by, ascending=ascending, kind="stable")
    if assigned_to is not None:
        out = out.loc[out["assigned_to"] == assigned_to]
    if unassigned:
        out = out.loc[out["assigned_to"] == ""]
    return out[LIST_COLUMNS].reset_index(drop=True)


def reminder_list_part(cohort, acks: pd.DataFrame, reminders: tuple[pd.DataFrame, pd.DataFrame],
                       _contacts: pd.DataFrame, as_of: date, config: Config,
                       states: tuple[str, ...] | None) -> pd.DataFrame:
    """A chunk's part of `list_reminders`, in its order (no database: it may run in a worker)."""
    from monitor.rules.evaluation import evaluate

    evaluation = evaluate(cohort, as_of=as_of, config=config, evidence=False, acknowledgements=acks)
    table = reminder_states(*reminders, zone=config.zone)
    if states is None:
        return working_list(table, evaluation)
    if states:  # a state's list: active patients only, like the worklist
        return reminder_table(active_only(table.loc[table["state"].isin(states)], evaluation), evaluation)
    return reminder_table(table, evaluation)  # --all: every reminder, whoever it was for


@dataclass(frozen=True)
class Done:
    """What an action hit and left: the patient, the reminder, its state before and after."""

    reminder_id: int
    mrn: str
    name: str
    item: str
    due_date: date
    before: str
    state: str

    @property
    def who(self) -> str:
        """`TOH-000072 (Jane Doe), reminder 12 (DXA due 2026-01-10)`: whom the action hit."""
        name = f" ({self.name})" if self.name else ""
        return f"{self.mrn}{name}, reminder {self.reminder_id} ({self.item.upper()} due {self.due_date.isoformat()})"


def check_booked(outcome: str | None, booked_on: date | None, today: date) -> None:
    """`booked` carries the appointment date (not over 30 days ago, not over two years ahead); no other outcome does."""
    if outcome == "booked" and booked_on is None:
        raise MonitorError("--outcome booked needs the appointment date: --on YYYY-MM-DD")
    if outcome != "booked" and booked_on is not None:
        raise MonitorError("--on is the booked appointment's date: only with --outcome booked")
    if booked_on is not None and booked_on < today - timedelta(days=BOOKED_PAST_DAYS):
        raise MonitorError(f"--on {booked_on.isoformat()} is more than {BOOKED_PAST_DAYS} days before today "
                           f"({today.isoformat()}); record the scan itself when it was done")
    if booked_on is not None and booked_on > today + timedelta(days=BOOKED_AHEAD_DAYS):
        raise MonitorError(f"--on {booked_on.isoformat()} is more than two years ahead of today ({today.isoformat()})")


def check_assignment(assignee: str | None, due_by: date | None, today: date) -> None:
    if assignee is None:
        return
    if len(assignee) > 64 or (assignee and (not assignee.strip() or not assignee.isprintable())):
        raise MonitorError("--to: give a user name of 1 to 64 printable characters (or \"\" to unassign)")
    if due_by is not None and not assignee:
        raise MonitorError("--due-by needs someone to do the work: --to USER")
    if due_by is not None and due_by < today:
        raise MonitorError(f"--due-by {due_by.isoformat()} is before today ({today.isoformat()})")


def act(engine: Engine, key: str, *, kind: str, actor: str, today: date, config: Config, outcome: str | None = None,
        reason: str | None = None, until: date | None = None, booked_on: date | None = None,
        assignee: str | None = None, due_by: date | None = None) -> Done:
    """Append one staff action to the reminder `key` names (an MRN or an id); says whom it hit."""
    if kind == "outreach" and outcome not in OUTCOMES:
        raise MonitorError(f"outcome must be one of {', '.join(OUTCOMES)}")
    if kind == "outreach":
        check_booked(outcome, booked_on, today)
    if kind in ("deferred", "closed") and not (reason and reason.strip()):
        raise MonitorError("give a reason (--reason)")
    if kind == "deferred" and (until is None or until <= today):
        raise MonitorError(f"--until must be a date after today ({today.isoformat()})")
    if kind == "assigned":
        check_assignment(assignee, due_by, today)
    with store.transaction(engine) as conn:
        states = _states(conn, config)
        patients = load_patient_names(conn)
        reminder_id = pick_reminder(find_target(key, patients=patients, states=states), states, action=kind)
        row = states.loc[states["reminder_id"] == reminder_id].iloc[0]
        patient = patients.loc[patients["patient_id"] == int(row["patient_id"])].iloc[0]
        before = str(row["state"])
        if patient["status"] != "active" and kind != "closed":
            raise MonitorError(f"{patient['mrn']} is {patient['status']}: surveillance is paused, so the reminder is "
                               f"not worked (`monitor patient reactivate {patient['mrn']} --reason ...` first)")
        if before == "closed" and kind != "reopened":
            raise MonitorError(f"reminder {reminder_id} of {patient['mrn']} is closed; reopen it first "
                               f"(`monitor reminders reopen id:{reminder_id} --reason ...`)")
        if kind == "reopened" and before == "open":
            raise MonitorError(f"reminder {reminder_id} of {patient['mrn']} is already open")
        from monitor.store.tables import ReminderEvent  # here, not at the top: `show` and `due` need no SQLModel

        conn.execute(ReminderEvent.__table__.insert(), {
            "reminder_id": reminder_id, "at": datetime.now(timezone.utc), "actor": actor, "kind": kind,
            "outcome": outcome, "reason": reason, "until": until, "booked_on": booked_on,
            "assignee": assignee, "due_by": due_by})
        after = _states(conn, config).set_index("reminder_id").loc[reminder_id, "state"]
    return Done(reminder_id, str(patient["mrn"]), str(patient["name"] or ""), str(row["item"]),
                row["due_date"].date(), before, str(after))


def event_detail(e) -> str:
    """What an event carried beyond its kind: the deferral date, the assignment, the appointment."""
    def day(value) -> str:
        return "" if value is None or pd.isna(value) else pd.Timestamp(value).date().isoformat()

    if e.kind == "deferred":
        return f"until {day(e.until)}"
    if e.kind == "assigned":
        return f"to {e.assignee}" + (f", work by {day(e.due_by)}" if day(e.due_by) else "") if e.assignee else "unassigned"
    if e.kind == "outreach" and day(e.booked_on):
        return f"for {day(e.booked_on)}"
    return ""


HISTORY_COLUMNS = ["at", "by", "event", "outcome", "detail", "note"]


@dataclass(frozen=True)
class History:
    """One reminder's header line (whom, what, its state now) and its events, oldest first."""

    reminder_id: int
    mrn: str
    header: str
    rows: list[dict]


def _histories(conn, states: pd.DataFrame, patients: pd.DataFrame, reminder_ids, config: Config, *,
               patient_id: int | None = None, events: pd.DataFrame | None = None) -> list[History]:
    """Each reminder's header and event rows; `events` already read, or read here (of `patient_id`)."""
    from monitor.store.reminders import load_reminder_events

    if events is None:
        events = load_reminder_events(conn, patient_id=patient_id)
    names = patients.set_index("patient_id")
    out = []
    for rid in reminder_ids:
        r = states.loc[states["reminder_id"] == rid].iloc[0]
        p = names.loc[int(r["patient_id"])]
        state = r["state"]
        if state == "deferred":
            state += f" until {r['deferred_until']:%Y-%m-%d} ({r['deferred_reason'] or 'no reason given'})"
        if r["assignee"]:
            state += f"; assigned to {r['assignee']}" + (
                f", work by {r['due_by']:%Y-%m-%d}" if not pd.isna(r["due_by"]) else "")
        name = f" ({p['name']})" if p["name"] else ""
        header = (f"{p['mrn']}{name}, reminder {int(rid)} ({str(r['item']).upper()} due {r['due_date']:%Y-%m-%d}): "
                  f"{state}")
        mine = events.loc[events["reminder_id"] == rid].sort_values("event_id")
        rows = [{"at": local_text(e.at, config.zone), "by": e.actor, "event": e.kind,
                 "outcome": e.outcome if isinstance(e.outcome, str) else "", "detail": event_detail(e),
                 "note": e.reason if isinstance(e.reason, str) else ""} for e in mine.itertuples()]
        out.append(History(int(rid), str(p["mrn"]), header, rows))
    return out


def history(engine: Engine, key: str, *, config: Config) -> list[History]:
    """The history of the reminder `key` names; for an MRN, of each of the patient's reminders (newest first)."""
    with store.reading(engine) as conn:
        states = _states(conn, config)
        patients = load_patient_names(conn)
        target = find_target(key, patients=patients, states=states)
        if target.mrn is not None and not target.reminder_ids:
            raise MonitorError(f"{target.mrn} has no reminders yet (the nightly run creates them when a scan is due)")
        return _histories(conn, states, patients, sorted(target.reminder_ids, reverse=True), config)


def patient_histories(engine: Engine, patient_id: int, *, config: Config) -> list[History]:
    """Every reminder of one patient with its history, newest first (for `monitor show`)."""
    with store.reading(engine) as conn:  # that patient's rows only: the same at any cohort size
        states = _states(conn, config, patient_id=patient_id)
        patients = load_patient_names(conn, patient_id=patient_id)
        ids = sorted(states.loc[states["patient_id"] == patient_id, "reminder_id"].astype(int), reverse=True)
        return _histories(conn, states, patients, ids, config, patient_id=patient_id)


def patients_histories(engine: Engine, patient_ids, *, config: Config) -> dict[int, list[History]]:
    """Per patient id, every reminder with its history, newest first (for the patient reports):
    one read of the reminders, events and names of the patients' id span, never one per patient."""
    ids = sorted({int(p) for p in patient_ids})
    if not ids:
        return {}
    span = (ids[0], ids[-1])
    with store.reading(engine) as conn:
        rows, events = load_reminders(conn, span)
        states = reminder_states(rows, events, zone=config.zone)
        states = states.loc[states["patient_id"].isin(ids)]
        patients = load_patient_names(conn, span)
    out = {}
    for pid, mine in states.groupby("patient_id", sort=False):
        reminder_ids = sorted(mine["reminder_id"].astype(int), reverse=True)
        out[int(pid)] = _histories(None, mine, patients, reminder_ids, config, events=events)
    return {pid: out.get(pid, []) for pid in ids}


def reminder_summary(engine: Engine, evaluation, *, config: Config) -> pd.DataFrame:
    """Per patient, the reminder that speaks for them now (rules.worklist.patient_reminders)."""
    with store.reading(engine) as conn:
        states = _states(conn, config)
    return patient_reminders(states, evaluation.schedule)
