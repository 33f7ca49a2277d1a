"""Who and when: the OS user, `--by`, the clinic's today, and the access log of patient data."""

from __future__ import annotations

import getpass
from datetime import date, datetime

import pandas as pd
from sqlalchemy import Engine, text

from monitor import store
from monitor.config import Config
from monitor.errors import MonitorError


def os_user() -> str:
    """The login that runs this process: the audit log's `actor`, always."""
    try:
        return getpass.getuser()[:64]
    except Exception:  # no login name in some containers
        return "unknown"


def check_by(by: str | None) -> str | None:
    """A `--by` name as the audit log can keep it: 1 to 64 printable characters."""
    if by is not None and len(by) > 64:
        raise MonitorError(f"--by: at most 64 characters, got {len(by)}")
    if by is not None and (not by.strip() or not by.isprintable()):
        raise MonitorError("--by: give a name of 1 to 64 printable characters")
    return by


def current_actor(by: str | None = None) -> str:
    """Who a reminder action or run is by: `--by`, else the OS user."""
    return check_by(by) or os_user()


def record_access(engine: Engine, *, action: str, subject: str, rows: int = 0, by: str | None = None,
                  detail: dict | None = None) -> None:
    """Who saw or wrote patient data, when, and what: recorded before the data is shown.

    The OS user is always the actor; `by` (staff working for someone) is kept as on-behalf-of."""
    check_by(by)
    with store.transaction(engine) as conn:
        store.record_event(conn, actor=os_user(), action=action, subject=subject, rows=rows,
                           detail={**(detail or {}), **({"on_behalf_of": by} if by else {})})


def today_in(config: Config) -> date:
    """The clinic's local date: the one place the clock is read, at the shell."""
    return datetime.now(config.zone).date()


def audit_events(engine: Engine, action: str | None = None) -> pd.DataFrame:
    with store.reading(engine) as conn:
        query = "SELECT at, actor, action, subject, rows, detail FROM audit_event"
        params = {}
        if action:
            query += " WHERE action = :action"
            params["action"] = action
        return pd.read_sql_query(text(query + " ORDER BY id"), conn, params=params)
