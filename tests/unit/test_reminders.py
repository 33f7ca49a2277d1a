"""Reminder state and the nightly plan, and the daemon's slot arithmetic: pure, explicit dates."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from monitor.config import Config, parse_config
from monitor.jobs.daemon import latest_slot, triggers
from monitor.rules.reminders import plan_nightly, reminder_states

D = date.fromisoformat
T = pd.Timestamp
UTC = "UTC"


def reminders(*rows):
    return pd.DataFrame([dict(reminder_id=i, patient_id=p, item="dxa", due_date=T(d)) for i, p, d in rows],
                        columns=["reminder_id", "patient_id", "item", "due_date"])


def events(*rows):
    out = []
    for n, (rid, at, kind, *rest) in enumerate(rows, start=1):
        until = T(rest[0]) if rest else pd.NaT
        out.append(dict(event_id=n, reminder_id=rid, at=T(at, tz=UTC), actor="x", kind=kind, outcome=None,
                        reason=None, until=until))
    return pd.DataFrame(out, columns=["event_id", "reminder_id", "at", "actor", "kind", "outcome", "reason", "until"])


def test_state_follows_the_last_state_event():
    """Sent and outreach record work; created/deferred/reopened/closed set the state."""
    r = reminders((1, 1, "2026-01-01"), (2, 2, "2026-01-01"), (3, 3, "2026-01-01"))
    e = events((1, "2026-01-02", "created"), (1, "2026-01-03", "sent"),
               (2, "2026-01-02", "created"), (2, "2026-01-05", "deferred", "2026-03-01"), (2, "2026-01-06", "outreach"),
               (3, "2026-01-02", "created"), (3, "2026-01-04", "closed"), (3, "2026-01-05", "sent"))
    s = reminder_states(r, e).set_index("reminder_id")
    assert s["state"].to_dict() == {1: "open", 2: "deferred", 3: "closed"}
    assert s.loc[2, "deferred_until"] == T("2026-03-01")
    assert s["was_sent"].to_dict() == {1: True, 2: False, 3: True}


def schedule_of(*rows):
    return pd.DataFrame([dict(patient_id=p, status=s, due_date=T(d), last_scan_date=T(l) if l else pd.NaT)
                         for p, s, d, l in rows])


PATIENTS = pd.DataFrame({"patient_id": [1, 2, 3], "status": ["active", "active", "discharged"]})


def plan(schedule, r, e, as_of="2026-06-01"):
    return plan_nightly(schedule, reminder_states(r, e), PATIENTS, as_of=D(as_of), remind_statuses=("due", "overdue"))


def test_new_reminder_once_per_due_date():
    """A due patient gets one reminder; on the next night the same key is not created again."""
    sched = schedule_of((1, "overdue", "2026-01-01", "2024-01-01"), (2, "due_soon", "2026-07-01", "2024-07-01"))
    first = plan(sched, reminders(), events())
    assert first.new[["patient_id", "due_date"]].values.tolist() == [[1, T("2026-01-01")]]
    again = plan(sched, reminders((7, 1, "2026-01-01")), events((7, "2026-06-01", "created")))
    assert again.new.empty and again.close.empty


def test_status_change_does_not_remind_again():
    """due -> overdue keeps the same due date, so the same reminder: no re-send on status change."""
    sched = schedule_of((1, "overdue", "2026-01-01", "2024-01-01"))
    assert plan(sched, reminders((7, 1, "2026-01-01")), events((7, "2026-01-02", "created"))).new.empty


def test_closed_stays_closed_until_a_new_cycle():
    """A closed reminder is not recreated for the same due date; a new due date starts a new cycle."""
    r = reminders((7, 1, "2026-01-01"))
    e = events((7, "2026-01-02", "created"), (7, "2026-01-03", "closed"))
    assert plan(schedule_of((1, "overdue", "2026-01-01", "2024-01-01")), r, e).new.empty
    later = plan(schedule_of((1, "due", "2027-01-01", "2026-01-01")), r, e, as_of="2027-01-05")
    assert later.new["due_date"].tolist() == [T("2027-01-01")]


def test_scan_recorded_closes_with_reason_and_keeps_history():
    """A new scan moves the due date: the open reminder is closed with why, never deleted."""
    r = reminders((7, 1, "2026-01-01"))
    e = events((7, "2026-01-02", "created"), (7, "2026-01-05", "outreach"))
    p = plan(schedule_of((1, "not_due", "2028-02-01", "2026-02-01")), r, e)
    assert p.close.values.tolist() == [[7, "next scan now due 2028-02-01 (last scan 2026-02-01)"]]


def test_inactive_patient_closes_open_reminder():
    """Discharged: surveillance paused, the reminder is closed with that reason."""
    r = reminders((7, 3, "2026-01-01"))
    p = plan(schedule_of((1, "not_due", "2028-01-01", "2026-01-01")), r, events((7, "2026-01-02", "created")))
    assert p.close.values.tolist() == [[7, "patient is discharged: surveillance paused"]]


@pytest.mark.parametrize("as_of, reopened", [("2026-02-28", False), ("2026-03-01", True), ("2026-03-05", True)])
def test_deferred_reopens_on_its_expiry_date(as_of, reopened):
    """A deferral ends by itself on its date."""
    r = reminders((7, 1, "2026-01-01"))
    e = events((7, "2026-01-02", "created"), (7, "2026-01-03", "deferred", "2026-03-01"))
    p = plan(schedule_of((1, "overdue", "2026-01-01", "2024-01-01")), r, e, as_of=as_of)
    assert (p.reopen["reminder_id"].tolist() == [7]) is reopened


@pytest.mark.parametrize("now, slot", [
    ("2026-11-25 03:59", "2026-11-24"),
    ("2026-11-25 04:00", "2026-11-25"),
    ("2026-11-25 23:00", "2026-11-25"),
])
def test_latest_nightly_slot(now, slot):
    """Before 04:00 the latest slot is yesterday's; from 04:00 it is today's."""
    assert latest_slot("nightly", datetime.fromisoformat(now), Config()) == D(slot)


@pytest.mark.parametrize("now, slot", [
    ("2026-11-30 04:59", "2026-11-23"),  # Monday before 05:00: last week's
    ("2026-11-30 05:00", "2026-11-30"),
    ("2026-12-03 12:00", "2026-11-30"),  # Thursday
])
def test_latest_weekly_report_slot(now, slot):
    """The clinic report slot is the latest Monday 05:00."""
    assert latest_slot("clinic_report", datetime.fromisoformat(now), Config()) == D(slot)


def fires(trigger, start, end, zone):
    out, prev = [], None
    now = datetime.fromisoformat(start).replace(tzinfo=zone)
    stop = datetime.fromisoformat(end).replace(tzinfo=zone)
    while True:
        nxt = trigger.get_next_fire_time(prev, now)
        if nxt is None or nxt > stop:
            return out
        out.append(nxt)
        prev, now = nxt, nxt


@pytest.mark.parametrize("day_before, day_after", [("2026-10-24", "2026-10-26"), ("2026-03-28", "2026-03-30")])
def test_default_nightly_time_fires_once_per_day_across_dst(day_before, day_after):
    """04:00 is outside the DST hours: one fire per local day on both transition nights."""
    zone = ZoneInfo("Europe/Berlin")
    config = parse_config({"timezone": "Europe/Berlin"})
    got = fires(triggers(config)["nightly"], f"{day_before} 12:00", f"{day_after} 12:00", zone)
    assert [f.astimezone(zone).strftime("%Y-%m-%d %H:%M") for f in got] == [
        f"{pd.Timestamp(day_before) + pd.Timedelta(days=1):%Y-%m-%d} 04:00", f"{day_after} 04:00"]


def test_a_dst_double_fire_maps_to_one_slot():
    """Should a 02:30 trigger fire at both 02:30s of the autumn night, both fires serve one slot."""
    zone = ZoneInfo("Europe/Berlin")
    config = parse_config({"timezone": "Europe/Berlin", "jobs": {"nightly_time": "02:30"}})
    first = datetime(2026, 10, 25, 2, 30, tzinfo=zone, fold=0)
    second = datetime(2026, 10, 25, 2, 30, tzinfo=zone, fold=1)
    assert first.astimezone(ZoneInfo("UTC")) != second.astimezone(ZoneInfo("UTC"))
    assert latest_slot("nightly", first, config) == latest_slot("nightly", second, config) == D("2026-10-25")


def test_lookup_keeps_the_values_type_and_takes_an_empty_table():
    """`lookup` (what reminder states and the nightly plan look dates up with) is
    `keys.map(values)`: missing keys are NA, dates stay dates, and no reminders at all (an empty
    table of dates: a new clinic's first night) is all missing, not an error."""
    from monitor.rules.flag_frames import lookup

    keys = pd.Series([3, 1, 9], index=[10, 11, 12])
    dates = pd.Series(pd.to_datetime(["2026-01-01", "2026-03-03"]).astype("datetime64[us]"), index=[1, 3])
    found = lookup(keys, dates)
    assert list(found.index) == [10, 11, 12] and str(found.dtype) == "datetime64[us]"
    assert list(found.iloc[:2]) == [pd.Timestamp("2026-03-03"), pd.Timestamp("2026-01-01")] and pd.isna(found.iloc[2])
    empty = lookup(keys, pd.Series([], dtype="datetime64[us]"))
    assert empty.isna().all() and str(empty.dtype) == "datetime64[us]"
    assert lookup(keys, pd.Series(["a", "b"], index=[9, 1])).fillna("").tolist() == ["", "b", "a"]
