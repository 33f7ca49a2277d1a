"""Working reminders by patient: assignment, booked dates, MRN-or-id, and the state shown beside a patient."""

from types import SimpleNamespace

import pandas as pd
import pytest

from monitor.errors import MonitorError
from monitor.rules.reminders import find_target, pick_reminder, reminder_states
from monitor.rules.worklist import URGENT_DEFERRED, patient_reminders, work_counts, working_list

T = pd.Timestamp


def reminders(*rows):
    return pd.DataFrame([dict(reminder_id=i, patient_id=p, item="dxa", due_date=T(d)) for i, p, d in rows])


def events(*rows):
    """(reminder_id, at, kind, fields...) -> the event frame the store loads."""
    out = []
    for n, (rid, at, kind, fields) in enumerate(rows, start=1):
        row = dict(event_id=n, reminder_id=rid, at=T(at, tz="UTC"), actor="x", kind=kind, outcome=None, reason=None,
                   until=pd.NaT, assignee=None, due_by=pd.NaT, booked_on=pd.NaT)
        row.update({k: (T(v) if k in ("until", "due_by", "booked_on") else v) for k, v in fields.items()})
        out.append(row)
    return pd.DataFrame(out)


def test_assignment_and_booking_are_read_from_the_history_without_changing_state():
    """Staff see who works a reminder, by when, and the appointment booked; none of it closes the reminder."""
    r = reminders((1, 1, "2026-01-01"), (2, 2, "2026-01-01"))
    e = events((1, "2026-01-02 08:00", "created", {}),
               (1, "2026-01-03 08:00", "assigned", {"assignee": "clerk1", "due_by": "2026-01-20"}),
               (1, "2026-01-04 23:30", "outreach", {"outcome": "booked", "booked_on": "2026-02-03", "reason": "9:00"}),
               (2, "2026-01-02 08:00", "created", {}),
               (2, "2026-01-03 08:00", "assigned", {"assignee": "clerk1", "due_by": "2026-01-20"}),
               (2, "2026-01-05 08:00", "assigned", {"assignee": ""}),
               (2, "2026-01-06 08:00", "outreach", {"outcome": "unreachable"}))
    s = reminder_states(r, e, zone="Europe/Berlin").set_index("reminder_id")
    assert s["state"].to_dict() == {1: "open", 2: "open"}
    assert s.loc[1, "assignee"] == "clerk1" and s.loc[1, "due_by"] == T("2026-01-20")
    assert s.loc[2, "assignee"] == "" and pd.isna(s.loc[2, "due_by"])  # unassigned clears the work-by date
    assert s.loc[1, "booked_on"] == T("2026-02-03") and s.loc[1, "last_outreach_note"] == "9:00"
    assert pd.isna(s.loc[2, "booked_on"])  # only `booked` carries an appointment
    # 23:30 UTC is already the next day in Berlin: the clinic's date, not the server's.
    assert s.loc[1, "last_outreach_on"] == T("2026-01-05")


def test_deferral_reason_and_date_are_kept():
    """A deferred patient says until when and why, wherever they are listed."""
    r = reminders((1, 1, "2026-01-01"))
    e = events((1, "2026-01-02", "created", {}),
               (1, "2026-01-03", "deferred", {"until": "2027-01-15", "reason": "patient abroad"}))
    schedule = pd.DataFrame({"patient_id": [1, 2], "due_date": [T("2026-01-01"), T("2026-05-01")]})
    summary = patient_reminders(reminder_states(r, e), schedule)
    assert summary.loc[1, "reminder_state"] == "deferred"
    assert summary.loc[1, "reminder_detail"] == "deferred until 2027-01-15 (patient abroad)"
    assert summary.loc[1, "reminder_note"] == "until 2027-01-15: patient abroad"
    assert 2 not in summary.index  # no reminder: the lists say `none`
    assert work_counts(summary, [1, 2])["deferred"] == 1 and work_counts(summary, [1, 2])["none"] == 1


def test_the_current_cycle_speaks_for_the_patient():
    """An old closed reminder does not hide the open one of the current due date, nor the reverse."""
    r = reminders((1, 1, "2024-01-01"), (2, 1, "2026-01-01"))
    e = events((1, "2024-01-02", "created", {}), (1, "2025-01-01", "closed", {"reason": "scan recorded"}),
               (2, "2026-01-02", "created", {}), (2, "2026-01-03", "outreach", {"outcome": "declined"}))
    schedule = pd.DataFrame({"patient_id": [1], "due_date": [T("2026-01-01")]})
    summary = patient_reminders(reminder_states(r, e), schedule)
    assert summary.loc[1, "reminder_state"] == "open" and summary.loc[1, "work"] == "declined"
    assert summary.loc[1, "last_outreach_on"] == "2026-01-03"


PATIENTS = pd.DataFrame({"patient_id": [1, 2, 3], "mrn": ["TOH-1", "007", "12"]})


def states_of(*rows):
    """(reminder_id, patient_id, due, state) -> states as reminder_states gives them."""
    return pd.DataFrame([dict(reminder_id=i, patient_id=p, item="dxa", due_date=T(d), state=s, deferred_until=pd.NaT)
                         for i, p, d, s in rows])


STATES = states_of((7, 1, "2026-01-01", "open"), (12, 2, "2026-02-01", "open"), (13, 3, "2026-03-01", "deferred"),
                   (14, 3, "2026-04-01", "open"), (3, 1, "2024-01-01", "closed"))


@pytest.mark.parametrize("key, expected", [
    ("TOH-1", 7),     # an MRN: the patient's one live reminder (the closed one is history)
    ("007", 12),      # digits that are an MRN stay an MRN (MRNs are text)
    ("7", 7),         # a number that is no MRN is a reminder id
    ("id:12", 12),    # id: always means an id...
    ("id:3", 3),      # ...even of a closed reminder
    (" TOH-1 ", 7),   # pasted with spaces
])
def test_mrn_or_id(key, expected):
    """The documented rule: `id:N` is an id; a value that is an MRN is that MRN; else a number is an id."""
    assert pick_reminder(find_target(key, patients=PATIENTS, states=STATES), STATES, action="outreach") == expected


def test_an_mrn_that_is_also_a_reminder_id_is_the_mrn():
    """`12` is patient 12's MRN here, though reminder 12 exists: the MRN wins, and `id:12` reaches the reminder."""
    with pytest.raises(MonitorError, match="12 has 2 reminders this could mean"):
        pick_reminder(find_target("12", patients=PATIENTS, states=STATES), STATES, action="outreach")
    assert find_target("id:12", patients=PATIENTS, states=STATES).reminder_ids == (12,)


def test_several_live_reminders_are_listed_with_ids_and_no_name():
    """Ambiguity is never guessed: each candidate with id, item, due date and state."""
    with pytest.raises(MonitorError) as caught:
        pick_reminder(find_target("12", patients=PATIENTS, states=STATES), STATES, action="defer")
    text = str(caught.value)
    assert "id:13  DXA due 2026-03-01, deferred" in text and "id:14  DXA due 2026-04-01, open" in text
    assert "give the id" in text


@pytest.mark.parametrize("key, message", [
    ("TOH-9", "no patient with MRN 'TOH-9'"),
    ("99", "no patient with MRN '99' and no reminder with id 99"),
    ("id:99", "no reminder with id 99"),
    ("id:x", "no reminder with id x"),
])
def test_unknown_keys_are_refused(key, message):
    """A typo is an error naming what was typed, never another patient's reminder."""
    with pytest.raises(MonitorError, match=message):
        find_target(key, patients=PATIENTS, states=STATES)


def test_an_mrn_without_a_live_reminder_says_so_and_what_to_try():
    """Closed only: nothing to work; reopen by MRN finds the latest closed one."""
    states = STATES.loc[STATES["patient_id"] != 1].pipe(
        lambda s: pd.concat([s, states_of((3, 1, "2024-01-01", "closed"), (5, 1, "2025-01-01", "closed"))]))
    target = find_target("TOH-1", patients=PATIENTS, states=states)
    with pytest.raises(MonitorError, match=r"TOH-1 has no open or deferred reminder; `monitor reminders --all`"):
        pick_reminder(target, states, action="outreach")
    assert pick_reminder(target, states, action="reopened") == 5


def test_deferred_reminder_of_an_urgent_patient_stays_on_the_worklist():
    """A deferral never hides an unacknowledged urgent flag: the reminder stays listed, marked."""
    r = reminders((1, 1, "2026-01-01"), (2, 2, "2026-01-01"), (3, 3, "2026-01-01"))
    e = events((1, "2026-01-02", "deferred", {"until": "2027-01-01", "reason": "abroad"}),
               (2, "2026-01-02", "deferred", {"until": "2027-01-01", "reason": "abroad"}),
               (3, "2026-01-02", "created", {}))
    states = reminder_states(r, e)
    flags = pd.DataFrame({"patient_id": [1, 2], "code": ["x", "y"], "severity": ["urgent", "warn"],
                          "acknowledged_by": ["", ""]})
    patients = pd.DataFrame({"patient_id": [1, 2, 3], "mrn": ["A", "B", "C"], "name": ["", "", ""],
                             "status": ["active"] * 3})
    schedule = pd.DataFrame({"patient_id": [1, 2, 3], "due_date": [T("2026-01-01")] * 3, "status": ["overdue"] * 3,
                             "days_overdue": [10] * 3, "interval_months": [12] * 3, "risk_factors": [""] * 3,
                             "flags": ["x", "y", ""]})
    evaluation = SimpleNamespace(schedule=schedule, flags=flags, cohort=SimpleNamespace(patients=patients))
    listed = working_list(states, evaluation).set_index("mrn")["state"].to_dict()
    assert listed == {"A": URGENT_DEFERRED, "C": "open"}  # B's warning may wait; A's urgent flag may not
    acked = evaluation.flags.assign(acknowledged_by=["dr", ""])
    seen = SimpleNamespace(schedule=schedule, flags=acked, cohort=evaluation.cohort)
    assert set(working_list(states, seen)["mrn"]) == {"C"}  # a clinician has seen it: the deferral holds
