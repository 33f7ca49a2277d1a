"""Staff working the reminder list: list, record outreach, defer, close, reopen, history.

Every action appends an event with who did it and when; nothing is edited or deleted.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import pandas as pd
from sqlalchemy import Engine, text

from monitor import store
from monitor.config import Config
from monitor.errors import MonitorError
from monitor.rules.worklist import reminder_table
from monitor.store.reminders import load_reminders
from monitor.store.tables import ReminderEvent
from monitor.rules.reminders import OUTCOMES, reminder_states

LIST_COLUMNS = ["reminder_id", "mrn", "name", "item", "due_date", "status", "days_overdue", "state",
                "deferred_until", "last_outreach", "flags"]


def list_reminders(engine: Engine, *, as_of: date, config: Config, states: tuple[str, ...]) -> pd.DataFrame:
    from monitor.services.evaluation import evaluate_db

    evaluation = evaluate_db(engine, as_of=as_of, config=config, evidence=False)
    with store.reading(engine) as conn:
        reminders, events = load_reminders(conn)
    table = reminder_states(reminders, events)
    if states:
        table = table.loc[table["state"].isin(states)]
    return reminder_table(table, evaluation)[LIST_COLUMNS]


def _current_state(conn, reminder_id: int) -> str:
    reminders, events = load_reminders(conn)
    reminders = reminders.loc[reminders["reminder_id"] == reminder_id]
    if not len(reminders):
        raise MonitorError(f"no reminder with id {reminder_id}")
    return reminder_states(reminders, events.loc[events["reminder_id"] == reminder_id])["state"].iloc[0]


def record(engine: Engine, reminder_id: int, *, kind: str, actor: str, today: date, outcome: str | None = None,
           reason: str | None = None, until: date | None = None) -> str:
    """Append one staff action to a reminder's history; returns its new state."""
    if kind == "outreach" and outcome not in OUTCOMES:
        raise MonitorError(f"outcome must be one of {', '.join(OUTCOMES)}")
    if kind in ("deferred", "closed") and not (reason and reason.strip()):
        raise MonitorError("give a reason (--reason)")
    if kind == "deferred" and (until is None or until <= today):
        raise MonitorError(f"--until must be a date after today ({today.isoformat()})")
    with store.transaction(engine) as conn:
        state = _current_state(conn, reminder_id)
        if state == "closed" and kind != "reopened":
            raise MonitorError(f"reminder {reminder_id} is closed; reopen it first")
        if kind == "reopened" and state == "open":
            raise MonitorError(f"reminder {reminder_id} is already open")
        conn.execute(ReminderEvent.__table__.insert(), {
            "reminder_id": reminder_id, "at": datetime.now(timezone.utc), "actor": actor, "kind": kind,
            "outcome": outcome, "reason": reason, "until": until})
        return _current_state(conn, reminder_id)


def history(engine: Engine, reminder_id: int) -> pd.DataFrame:
    with store.reading(engine) as conn:
        row = conn.execute(text("SELECT r.id, p.mrn, r.item, r.due_date FROM reminder r JOIN patient p "
                                "ON p.id = r.patient_id WHERE r.id = :id"), {"id": reminder_id}).first()
        if row is None:
            raise MonitorError(f"no reminder with id {reminder_id}")
        events = pd.read_sql_query(text("SELECT at, actor, kind, outcome, reason, until FROM reminder_event "
                                        "WHERE reminder_id = :id ORDER BY id"), conn, params={"id": reminder_id})
    events.attrs["header"] = f"Reminder {row[0]}: {row[1]} {row[2]} due {row[3]}"
    return events
