"""The clinic report's quarterly measures, from hand-made histories with an explicit as_of."""

from datetime import date

import pandas as pd

from monitor.reports.clinic_trends import baseline_capture, capture_by_quarter
from monitor.rules.cohort import Cohort


def cohort():
    episodes = pd.DataFrame({
        "patient_id": [1, 2, 3, 4, 4], "joint": "hip", "side": "left",
        "onset_date": ["2026-01-05", "2026-02-01", "2026-03-01", "2025-01-01", "2026-05-01"],
        "diagnosed_on": ["2026-01-20", None, "2026-03-10", "2025-01-10", "2026-05-02"],
    })
    scans = pd.DataFrame({
        "patient_id": [1, 2, 3, 4], "scan_date": ["2026-03-01", "2026-06-01", "2026-03-02", "2025-02-01"],
        "site": "total_hip", "side": "left", "bmd_g_cm2": 0.8,
    })
    return Cohort.from_frames(episodes=episodes, scans=scans)


def test_baseline_capture_counts_a_scan_from_onset_to_12_weeks_after_diagnosis():
    """IOF capture: a DXA inside the window counts, a late one does not; a window still open is not judged."""
    out = baseline_capture(cohort(), as_of=date(2026, 7, 1)).set_index("patient_id")
    assert out["captured"].to_dict() == {1: True, 2: False, 3: True, 4: True}  # 2: 17 weeks after onset
    assert out.loc[4, "quarter"] == "2025Q1"  # the first episode decides, not the recurrence
    assert 3 not in baseline_capture(cohort(), as_of=date(2026, 5, 1)).patient_id.tolist()  # window open until 06-02


def test_capture_by_quarter_gives_percent_per_quarter_of_diagnosis():
    """The manager's trend: eight quarters ending with the current one, empty quarters shown as none."""
    table = capture_by_quarter(cohort(), as_of=date(2026, 6, 30)).set_index("quarter")
    assert list(table.index) == ["2024Q3", "2024Q4", "2025Q1", "2025Q2", "2025Q3", "2025Q4", "2026Q1", "2026Q2"]
    assert table.loc["2026Q1", ["patients", "captured"]].tolist() == [3, 2]
    assert table.loc["2026Q1", "pct"] == 67.0 and pd.isna(table.loc["2025Q2", "pct"])


def replay_cohort():
    """Three patients: 1 scanned 40 days after due, 2 enrolled mid-2025 and scanned 101 days after its
    baseline fell due, 3 never rescanned (overdue from 2025, lost from 2026)."""
    patients = pd.DataFrame({"patient_id": [1, 2, 3], "mrn": ["A1", "A2", "A3"], "name": "x", "status": "active",
                             "enrolled_on": ["2024-01-01", "2025-05-01", "2023-01-01"]})
    episodes = pd.DataFrame({"patient_id": [1, 2], "joint": "hip", "side": "left",
                             "onset_date": ["2024-01-01", "2025-05-01"], "diagnosed_on": ["2024-01-10", "2025-05-05"]})
    scans = pd.DataFrame({"patient_id": [1, 1, 2, 3], "scan_date": ["2024-01-20", "2026-03-01", "2025-08-14", "2023-01-01"],
                          "site": "total_hip", "side": "left", "bmd_g_cm2": 0.8})
    return Cohort.from_frames(patients=patients, episodes=episodes, scans=scans)


def test_overdue_share_replays_the_schedule_at_each_quarter_end():
    """% overdue per quarter from what was known then; a patient counts from enrolment; lost = > 1 year."""
    from monitor.config import Config
    from monitor.reports.clinic_trends import overdue_by_quarter, replay_schedules

    schedules = replay_schedules(replay_cohort(), as_of=date(2026, 6, 30), config=Config())
    assert list(schedules)[0] == date(2024, 6, 30) and list(schedules)[-1] == date(2026, 6, 30)
    table = overdue_by_quarter(schedules, as_of=date(2026, 6, 30)).set_index("quarter")
    assert table.loc["2025Q1", ["active", "overdue", "pct", "median_days", "lost"]].tolist() == [2, 1, 50.0, 89.0, 0]
    assert table.loc["2025Q2", ["active", "overdue", "median_days"]].tolist() == [3, 2, 118.0]  # 56 and 180 days
    assert table.loc["2025Q3", ["overdue", "median_days"]].tolist() == [1, 272.0]  # patient 2 scanned
    assert table.loc["2026Q1", ["overdue", "lost"]].tolist() == [1, 1]  # patient 3: 454 days


def test_due_to_scan_measures_from_the_due_date_known_at_the_quarter_before():
    """Days from due to the scan that answered it, by the scan's quarter; quarters without one have none."""
    from monitor.config import Config
    from monitor.reports.clinic_trends import due_to_scan_by_quarter, replay_schedules

    cohort = replay_cohort()
    schedules = replay_schedules(cohort, as_of=date(2026, 6, 30), config=Config())
    table = due_to_scan_by_quarter(cohort, schedules, due_soon_days=60).set_index("quarter")
    assert table.loc["2025Q3", ["scans", "median_days"]].tolist() == [1, 101.0]  # baseline due 2025-05-05
    assert table.loc["2026Q1", ["scans", "median_days"]].tolist() == [1, 40.0]  # due 2026-01-20
    assert table.loc["2025Q2", "scans"] == 0 and pd.isna(table.loc["2025Q2", "median_days"])


def test_an_early_scan_in_the_due_soon_window_counts_as_on_time():
    """A scan before its due date (inside the due-soon window) waited 0 days, never a negative number."""
    from monitor.config import Config
    from monitor.reports.clinic_trends import due_to_scan_by_quarter, replay_schedules

    cohort = replay_cohort()
    scans = cohort.scans.copy()
    scans.loc[1, "scan_date"] = pd.Timestamp("2026-01-05")  # due 2026-01-20
    cohort = Cohort.from_frames(patients=cohort.patients, episodes=cohort.episodes, scans=scans)
    table = due_to_scan_by_quarter(cohort, replay_schedules(cohort, as_of=date(2026, 6, 30), config=Config()),
                                   due_soon_days=60).set_index("quarter")
    assert table.loc["2026Q1", ["scans", "median_days"]].tolist() == [1, 0.0]


def test_an_empty_clinic_gets_a_whole_report_with_dashes_not_errors(tmp_path):
    """A new clinic (no patients yet) gets every page, its trends as dashes and zeros."""
    from pypdf import PdfReader

    from monitor.config import Config
    from monitor.reports.clinic import write_clinic_report
    from monitor.reports.clinic_trends import quarterly_trends
    from monitor.rules.evaluation import evaluate

    evaluation = evaluate(Cohort.from_frames(), as_of=date(2026, 11, 20), config=Config())
    trends = quarterly_trends(evaluation, Config())
    assert trends["active"].tolist() == [0] * 8 and trends["pct"].isna().all()
    from monitor.reports.clinic_summary import summarise

    path = write_clinic_report(summarise(evaluation, Config(), limit=500), tmp_path / "c.pdf", config=Config())
    reader = PdfReader(str(path))
    text = " ".join(p.extract_text() for p in reader.pages)
    assert "No urgent or warning flag" in text and f"page {len(reader.pages)} of {len(reader.pages)}" in text
