"""PROTOCOL.md §1: the DXA schedule, pinned with explicit dates."""

from datetime import date

import pandas as pd
import pytest

from monitor.config import ScheduleSettings
from monitor.rules.schedule import (
    add_months,
    bilateral_scan_flags,
    risk_factor_table,
    schedule,
    surveillance_status,
)
from tests.unit.cohorts import cohort, episode, patient, scan

S = ScheduleSettings()
D = date.fromisoformat


def one(c, as_of, settings=S):
    out = schedule(c, as_of=D(as_of), settings=settings)
    assert len(out) == 1
    return out.iloc[0]


@pytest.mark.parametrize("start, months, expected", [
    ("2024-02-29", 12, "2025-02-28"),  # leap day clips to the month's end
    ("2024-02-29", 24, "2026-02-28"),
    ("2024-02-29", 48, "2028-02-29"),  # ... unless the target year is leap too
    ("2024-01-31", 1, "2024-02-29"),
    ("2023-01-31", 1, "2023-02-28"),
    ("2023-08-31", 12, "2024-08-31"),
    ("2023-12-15", 12, "2024-12-15"),
    ("2025-10-31", 24, "2027-10-31"),
])
def test_add_months_is_calendar_months(start, months, expected):
    """A yearly scan lands on the same calendar day, clipped at month ends, never drifting."""
    out = add_months(pd.Series([pd.Timestamp(start)]), months)
    assert out.iloc[0] == pd.Timestamp(expected)


@pytest.mark.parametrize("as_of, status, days_overdue", [
    ("2025-12-30", "not_due", 0),   # 61 days before due
    ("2025-12-31", "due_soon", 0),  # exactly 60 days before: due soon starts
    ("2026-02-28", "due_soon", 0),  # the day before due
    ("2026-03-01", "due", 0),       # the due date
    ("2026-03-31", "due", 30),      # the last day of grace
    ("2026-04-01", "overdue", 31),  # the first day past grace
    ("2028-03-01", "overdue", 731),
])
def test_status_boundaries(as_of, status, days_overdue):
    """Staff trust the list only if the windows end exactly where the protocol says."""
    due = pd.Series([pd.Timestamp("2026-03-01")])
    st, days = surveillance_status(due, as_of=D(as_of), settings=S)
    assert (st.iloc[0], int(days.iloc[0])) == (status, days_overdue)


def test_status_windows_are_configurable():
    """A clinic that reminds 90 days ahead with a 14-day grace sees its own windows."""
    settings = ScheduleSettings(due_soon_days=90, grace_days=14)
    due = pd.Series([pd.Timestamp("2026-03-01")] * 3)
    st, _ = surveillance_status(due, as_of=D("2025-12-01"), settings=settings)
    assert st.iloc[0] == "due_soon"
    st, _ = surveillance_status(due, as_of=D("2026-03-16"), settings=settings)
    assert st.iloc[0] == "overdue"


def test_baseline_due_on_diagnosis_when_no_scan():
    """After a TOH diagnosis a baseline scan documents the bone loss [1]."""
    r = one(cohort(episodes=[episode(onset="2026-01-05", diagnosed="2026-02-01")]), "2026-02-10")
    assert r["due_date"] == pd.Timestamp("2026-02-01")
    assert r["is_baseline"] and r["status"] == "due" and r["days_overdue"] == 9
    assert "baseline" in r["due_reason"] and "2026-02-01" in r["due_reason"]


def test_baseline_uses_onset_when_diagnosis_date_missing():
    """A missing diagnosis date falls back to the onset, never to 'not due'."""
    r = one(cohort(episodes=[episode(onset="2026-01-05")]), "2026-01-05")
    assert r["due_date"] == pd.Timestamp("2026-01-05") and r["status"] == "due"


def test_scan_before_diagnosis_does_not_count_as_baseline():
    """Only a scan on or after the diagnosis documents the episode's bone loss."""
    c = cohort(episodes=[episode(onset="2026-01-05", diagnosed="2026-02-01")],
               scans=[scan(day="2026-01-31")])
    r = one(c, "2026-02-02")
    assert r["is_baseline"] and r["due_date"] == pd.Timestamp("2026-02-01")


def test_scan_on_diagnosis_day_is_the_baseline():
    """A scan on the diagnosis date is the baseline; follow-up runs from it."""
    c = cohort(episodes=[episode(onset="2026-01-05", diagnosed="2026-02-01")],
               scans=[scan(day="2026-02-01")])
    r = one(c, "2026-02-02")
    assert not r["is_baseline"] and r["due_date"] == pd.Timestamp("2028-02-01")
    assert r["interval_months"] == 24 and r["status"] == "not_due"


def test_new_episode_calls_for_a_new_baseline():
    """A recurrence after the last scan makes a fresh baseline due on its diagnosis date."""
    c = cohort(episodes=[episode(onset="2020-01-05", diagnosed="2020-02-01", resolved="2020-09-01"),
                         episode(onset="2025-05-01", side="right", diagnosed="2025-05-20")],
               scans=[scan(day="2020-02-10"), scan(day="2024-02-10")])
    r = one(c, "2025-06-01")
    assert r["is_baseline"] and r["due_date"] == pd.Timestamp("2025-05-20") and r["status"] == "due"
    assert r["interval_months"] == 12  # two episodes are a derived risk factor


@pytest.mark.parametrize("risks, episodes, interval", [
    ("", [episode()], 24),
    ("smoking", [episode()], 12),
    ("glucocorticoids;low_bmi", [episode()], 12),
    ("", [episode(pregnancy=True)], 12),
    ("", [episode(fracture=True)], 12),
    ("", [episode(), episode(onset="2023-01-01", joint="knee")], 12),
])
def test_interval_24_months_or_12_with_a_risk_factor(risks, episodes, interval):
    """Repeat DEXA every 2 years, or annually with additional risk factors [2, 3]."""
    c = cohort(patients=[patient(risks=risks)], episodes=episodes, scans=[scan(day="2024-02-29")])
    r = one(c, "2024-03-01")
    assert r["interval_months"] == interval
    expected = "2025-02-28" if interval == 12 else "2026-02-28"
    assert r["due_date"] == pd.Timestamp(expected)


def test_derived_risk_factors_carry_their_reason():
    """Every risk factor shown says why, so staff can check it."""
    c = cohort(patients=[patient(risks="smoking")],
               episodes=[episode(onset="2021-03-01", pregnancy=True, fracture=True),
                         episode(onset="2021-09-01", joint="knee", side="right")])
    table = risk_factor_table(c)
    got = dict(zip(table["code"], table["reason"]))
    assert got["smoking"] == "recorded by staff"
    assert got["pregnancy_associated_toh"] == "pregnancy-associated episode: left hip onset 2021-03-01"
    assert got["fracture"] == "fracture with episode: left hip onset 2021-03-01"
    assert got["recurrent_or_migratory_toh"].startswith("2 episodes: left hip onset 2021-03-01; right knee")
    r = one(c, "2022-01-01")
    assert r["risk_factors"] == "fracture;pregnancy_associated_toh;recurrent_or_migratory_toh;smoking"


@pytest.mark.parametrize("status", ["discharged", "deceased", "opted_out", "transferred"])
def test_inactive_patients_are_not_due(status):
    """Only active patients are due; the history of the others is kept."""
    c = cohort(patients=[patient(1), patient(2, status=status)],
               episodes=[episode(1), episode(2)])
    out = schedule(c, as_of=D("2026-01-01"), settings=S)
    assert out["patient_id"].tolist() == [1]


def test_records_after_as_of_are_not_yet_known():
    """Evaluating a past date ignores what was recorded later (same answer as on that day)."""
    c = cohort(episodes=[episode(onset="2022-01-10", diagnosed="2022-01-20"),
                         episode(onset="2024-06-01", joint="knee")],
               scans=[scan(day="2022-02-01"), scan(day="2024-02-01")])
    r = one(c, "2023-06-01")
    assert r["last_scan_date"] == pd.Timestamp("2022-02-01")
    assert r["interval_months"] == 24 and r["due_date"] == pd.Timestamp("2024-02-01")


def test_no_episode_no_scan_is_due_at_enrolment():
    """A patient enrolled without a recorded episode still needs a baseline scan."""
    c = cohort(patients=[patient(enrolled="2025-01-15")])
    r = one(c, "2025-03-01")
    assert r["is_baseline"] and r["due_date"] == pd.Timestamp("2025-01-15") and r["status"] == "overdue"


def test_surveillance_never_ends_by_itself():
    """Recurrence has been seen three years after the first episode [1]: years later, still due."""
    c = cohort(episodes=[episode(onset="2010-01-01", resolved="2010-09-01")], scans=[scan(day="2012-01-01")])
    r = one(c, "2026-01-01")
    assert r["status"] == "overdue" and r["due_date"] == pd.Timestamp("2014-01-01")


def test_only_inactive_cohort_gives_empty_schedule():
    """A cohort with no active patient has nobody due (not a crash, not a ghost row)."""
    c = cohort(patients=[patient(status="discharged")], scans=[scan()])
    assert schedule(c, as_of=D("2026-01-01"), settings=S).empty


@pytest.mark.parametrize("sites, raised, missing", [
    ((("total_hip", "left"), ("total_hip", "right")), False, None),
    ((("femoral_neck", "left"), ("total_hip", "right")), False, None),
    ((("total_hip", "left"), ("femoral_neck", "left")), True, "the right hip"),
    ((("total_hip", "right"),), True, "the left hip"),
    ((("lumbar_spine", ""),), True, "both hips"),
])
def test_incomplete_bilateral_scan(sites, raised, missing):
    """Both hips are monitored [1]: a latest scan lacking either raises a warning."""
    c = cohort(scans=[scan(day="2025-01-01"), scan(day="2026-01-01", sites=sites)])
    flags = bilateral_scan_flags(c, as_of=D("2026-02-01"))
    assert (len(flags) == 1) is raised
    if raised:
        f = flags.iloc[0]
        assert f["severity"] == "warn" and f["sources"] == "1"
        assert f["evidence"] == f"scan of 2026-01-01: no total hip or femoral neck value for {missing}"


def test_earlier_incomplete_scan_is_not_flagged_once_a_complete_one_follows():
    """Old gaps were closed by a later complete scan; the flag speaks of the latest scan only."""
    c = cohort(scans=[scan(day="2024-01-01", sites=(("total_hip", "left"),)), scan(day="2025-01-01")])
    assert bilateral_scan_flags(c, as_of=D("2025-06-01")).empty
