"""Due DXA scans as an iCalendar file: one all-day event per patient, updated in place on re-export.

- An event is all-day (`DTSTART;VALUE=DATE`, `DTEND` the next day) on the due date; a patient
  whose due date has passed (due or overdue) gets the event on the export's `as_of` day instead,
  titled "overdue since …": an event in the past is never seen in a calendar.
- `UID` is `dxa-<16 hex of sha256(MRN)>-<due date>@toh-monitor`: the same patient and due date
  give the same UID on every export, so a calendar updates the event instead of adding a second
  one, and the MRN itself is not in the UID. `SEQUENCE` is the number of days the event has
  moved past its due date (0 for an event on its due date), so a moved event counts as newer.
- `DTSTAMP` is the export's `as_of` at 00:00 UTC: the same data and day give the same file.
- Names appear only when asked (`with_names`); the description is the due reason in words.
- A reminder (`VALARM`, DISPLAY) 7 days before an upcoming event, at the start of an event on
  the export day.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time, timedelta, timezone

PRODID = "-//toh-monitor//DXA due dates//EN"
ALARM_DAYS_BEFORE = 7


def mrn_hash(mrn: str) -> str:
    """A stable, short stand-in for the MRN in a UID (16 hex digits of its SHA-256)."""
    return hashlib.sha256(f"toh-monitor:{mrn}".encode("utf-8")).hexdigest()[:16]


def event_uid(mrn: str, due_on: date) -> str:
    return f"dxa-{mrn_hash(mrn)}-{due_on.isoformat()}@toh-monitor"


def plain_reason(reason: str) -> str:
    """A due reason as words: codes such as `prior_fragility_fracture` lose their underscores."""
    return str(reason or "").replace("_", " ")


def calendar_bytes(rows, *, as_of: date, with_names: bool = False) -> bytes:
    """The events of `rows` (columns mrn, name, status, due_on (date), due_reason), in row order."""
    from icalendar import Alarm, Calendar, Event

    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", "DXA scans due")
    stamp = datetime.combine(as_of, time(0), tzinfo=timezone.utc)
    for row in rows.itertuples(index=False):
        due_on = row.due_on
        on = max(due_on, as_of)
        if due_on < as_of:
            what = f"DXA {'overdue' if row.status == 'overdue' else 'due'} since {due_on.isoformat()}"
        else:
            what = "DXA due"
        summary = f"{what}: {row.mrn}"
        if with_names and isinstance(row.name, str) and row.name:
            summary += f" ({row.name})"
        event = Event()
        event.add("uid", event_uid(row.mrn, due_on))
        event.add("dtstamp", stamp)
        event.add("sequence", (on - due_on).days)
        event.add("dtstart", on)
        event.add("dtend", on + timedelta(days=1))
        event.add("summary", summary)
        event.add("description", f"DXA scan due on {due_on.isoformat()}: {plain_reason(row.due_reason)}.")
        event.add("transp", "TRANSPARENT")
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", summary)
        alarm.add("trigger", timedelta(days=-ALARM_DAYS_BEFORE) if on > as_of else timedelta(0))
        event.add_component(alarm)
        cal.add_component(event)
    return cal.to_ical()
