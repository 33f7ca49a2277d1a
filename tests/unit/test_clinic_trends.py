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
