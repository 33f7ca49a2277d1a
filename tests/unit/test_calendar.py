"""Calendar events: the same patient and due date keep their UID; names only when asked."""

from datetime import date

import pandas as pd

from monitor.formats.calendar import calendar_bytes, event_uid

ROWS = pd.DataFrame({"mrn": ["007", "A2"], "name": ["Zoë Müller", "Bea"], "status": ["overdue", "due_soon"],
                     "due_on": [date(2026, 1, 10), date(2026, 6, 20)],
                     "due_reason": ["12 months after the scan of 2025-01-10 (risk factors: prior_fragility_fracture)",
                                    "24 months after the scan of 2024-06-20 (no additional risk factor)"]})


def test_uid_is_stable_and_does_not_hold_the_mrn():
    """A re-export must update the calendar event, not add a copy; the UID does not spell out the MRN."""
    uid = event_uid("007", date(2026, 1, 10))
    assert uid == event_uid("007", date(2026, 1, 10)) != event_uid("007", date(2027, 1, 10))
    assert uid.startswith("dxa-") and uid.endswith("-2026-01-10@toh-monitor") and "007" not in uid[:21]


def test_events_all_day_with_alarm_and_overdue_moved_to_today():
    """An overdue scan shows on the export day (a past event is never seen); upcoming ones on their due date."""
    from icalendar import Calendar

    cal = Calendar.from_ical(calendar_bytes(ROWS, as_of=date(2026, 6, 1)))
    events = cal.walk("VEVENT")
    assert [str(e["summary"]) for e in events] == ["DXA overdue since 2026-01-10: 007", "DXA due: A2"]
    assert [e.decoded("dtstart") for e in events] == [date(2026, 6, 1), date(2026, 6, 20)]
    assert [e.decoded("dtend") for e in events] == [date(2026, 6, 2), date(2026, 6, 21)]
    assert "prior fragility fracture" in str(events[0]["description"])
    alarms = [e.walk("VALARM")[0] for e in events]
    assert [str(a["action"]) for a in alarms] == ["DISPLAY", "DISPLAY"]
    assert alarms[1].decoded("trigger").days == -7
    plain = calendar_bytes(ROWS, as_of=date(2026, 6, 1)).decode("utf-8")
    assert "Zoë" not in plain and "Bea" not in plain
    assert "(Zoë Müller)" in calendar_bytes(ROWS, as_of=date(2026, 6, 1), with_names=True).decode("utf-8")


def test_same_data_same_file():
    """Exporting the same list on the same day gives the same bytes."""
    assert calendar_bytes(ROWS, as_of=date(2026, 6, 1)) == calendar_bytes(ROWS, as_of=date(2026, 6, 1))
