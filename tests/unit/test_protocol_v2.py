"""PROTOCOL.md version 2: the vocabulary and the safety rules, pinned at their edges."""

from datetime import date

import pandas as pd
import pytest

from monitor.config import Config, ScheduleSettings, parse_config
from monitor.rules.flags import evaluate_flags
from monitor.rules.pregnancy import breastfeeding_on, pregnancy_spans, pregnant_on
from monitor.rules.schedule import risk_factor_table, schedule
from monitor.rules.thresholds import age_years, is_young_adult
from monitor.rules.treatment import bone_treatments_on, recognise
from tests.unit.cohorts import cohort, episode, patient, scan

CFG = Config()
D = date.fromisoformat
TH = CFG.thresholds


def hips(left=0.9, right=0.9, t=-1.0, z=-0.5):
    return {("total_hip", "left"): (left, t, z), ("femoral_neck", "left"): (left, t, z),
            ("total_hip", "right"): (right, t, z), ("femoral_neck", "right"): (right, t, z)}


def flags(c, as_of, config=CFG):
    return evaluate_flags(c, as_of=D(as_of), config=config)


def codes(c, as_of, config=CFG):
    return set(flags(c, as_of, config)["code"])


def one_flag(c, code, as_of):
    f = flags(c, as_of)
    rows = f.loc[f["code"] == code]
    assert len(rows) == 1, (code, list(f["code"]))
    return rows.iloc[0]


def preg(expected=None, delivered=None, until=None, ongoing=None, pid=1):
    return dict(patient_id=pid, expected_delivery=expected, delivered_on=delivered, breastfeeding_until=until,
                breastfeeding_ongoing=ongoing)


def woman(pid=1, birth="1992-01-01", **kw):
    return patient(pid, sex="F", birth=birth, **kw)


def tx(drug, started="2025-01-01", stopped=None, dose="", pid=1):
    return dict(patient_id=pid, drug=drug, dose=dose, started_on=started, stopped_on=stopped)


def pain(day, complaint="hip_pain", side="left", progressive=False, weight_bearing=None, pid=1):
    return dict(patient_id=pid, reported_on=day, complaint=complaint, side=side, progressive=progressive,
                weight_bearing=weight_bearing)


# --- vocabulary: pregnant, breastfeeding ---------------------------------------------------

@pytest.mark.parametrize("record, day, pregnant", [
    (preg("2026-10-08"), "2026-01-01", True),    # expected - 40 weeks: the first pregnant day
    (preg("2026-10-08"), "2025-12-31", False),   # the day before
    (preg("2026-10-08", "2026-09-01"), "2026-09-01", True),   # the day of delivery
    (preg("2026-10-08", "2026-09-01"), "2026-09-02", False),  # the day after
    (preg("2026-10-08"), "2026-10-22", True),    # no delivery recorded: expected + 14 days
    (preg("2026-10-08"), "2026-10-23", False),
    (preg(None, "2026-10-08"), "2026-01-01", True),  # only the delivery known: delivery - 40 weeks
    (preg(None, "2026-10-08"), "2025-12-31", False),
])
def test_pregnant_on(record, day, pregnant):
    """No X-rays and no bone drugs on a pregnant day: the span must start and end on the right day."""
    spans = pregnancy_spans(cohort(pregnancies=[record]).pregnancies, settings=TH)
    assert bool(pregnant_on(spans, pd.Series([1]), D(day)).iloc[0]) is pregnant


@pytest.mark.parametrize("record, day, feeding", [
    (preg("2026-03-01", "2026-03-01", until="2026-06-30"), "2026-03-01", True),   # from the delivery
    (preg("2026-03-01", "2026-03-01", until="2026-06-30"), "2026-06-30", True),   # to the recorded last day
    (preg("2026-03-01", "2026-03-01", until="2026-06-30"), "2026-07-01", False),
    (preg("2026-03-01", "2026-03-01", ongoing=True), "2027-03-01", True),          # ongoing: exactly 12 months
    (preg("2026-03-01", "2026-03-01", ongoing=True), "2027-03-02", False),
    (preg("2026-03-01", "2026-03-01"), "2026-03-02", False),                       # nothing recorded
    (preg("2026-03-01", None, ongoing=True), "2026-03-10", False),                 # not delivered yet
])
def test_breastfeeding_on(record, day, feeding):
    """Bone drugs are avoided while breastfeeding (labelling); `ongoing` counts for 12 months."""
    spans = pregnancy_spans(cohort(pregnancies=[record]).pregnancies, settings=TH)
    assert bool(breastfeeding_on(spans, pd.Series([1]), D(day)).iloc[0]) is feeding


# --- vocabulary: bone treatment, young adult -------------------------------------------------

@pytest.mark.parametrize("drug, generic", [
    ("Alendronic acid", "alendronate"), ("FOSAMAX 70 mg", "alendronate"), ("Binosto", "alendronate"),
    ("Prolia", "denosumab"), ("Aclasta", "zoledronic acid"), ("zoledronic acid", "zoledronic acid"),
    ("Forteo", "teriparatide"), ("Tymlos", "abaloparatide"), ("Evenity", "romosozumab"),
    ("Atelvia", "risedronate"), ("Boniva", "ibandronate"),
    ("calcium + vitamin D", None), ("colecalciferol", None), ("paracetamol", None),
])
def test_bone_drugs_by_generic_and_brand(drug, generic):
    """A brand name must count as the drug it is, or a second antiresorptive gets prompted."""
    got = recognise(pd.Series([drug]), CFG.treatment).iloc[0]
    assert (None if pd.isna(got) else got) == generic


def test_clinic_adds_its_own_bone_drug_names():
    """A local brand the clinic records counts once named in the config."""
    config = parse_config({"treatment": {"bone_drugs": ["Ostemax=alendronate", "Bonemax"]}})
    got = recognise(pd.Series(["OSTEMAX 70", "Bonemax", "Ostemix"]), config.treatment).tolist()
    assert got[:2] == ["alendronate", "Bonemax"] and pd.isna(got[2])


@pytest.mark.parametrize("stopped, on", [
    (None, True), ("2026-06-01", True),    # stopped today: still on treatment today
    ("2026-05-31", False),                 # stopped yesterday
])
def test_on_bone_treatment_edges(stopped, on):
    """Stopped yesterday is off treatment; stopped today is still on it."""
    c = cohort(treatments=[tx("Prolia", "2025-01-01", stopped)])
    assert (len(bone_treatments_on(c, as_of=D("2026-06-01"), settings=CFG.treatment)) == 1) is on


def test_treatment_starting_tomorrow_is_not_current():
    """A treatment not yet started does not count (records after as_of are unknown)."""
    c = cohort(treatments=[tx("alendronate", "2026-06-02")]).known_on(D("2026-06-01"))
    assert bone_treatments_on(c, as_of=D("2026-06-01"), settings=CFG.treatment).empty


@pytest.mark.parametrize("sex, birth, post, young", [
    ("M", "1976-06-02", None, True),    # 49 on the scan day 2026-06-01
    ("M", "1976-06-01", None, False),   # 50 that very day
    ("F", "1976-06-02", None, True),    # woman of 49, menopause unknown
    ("F", "1976-06-01", None, False),   # 50
    ("F", "1980-01-01", True, False),   # under 50, recorded postmenopausal
    ("F", "1970-01-01", False, True),   # 56, recorded premenopausal
    ("X", "1976-06-02", None, True),
    ("X", "1976-06-01", None, False),
])
def test_young_adult(sex, birth, post, young):
    """ISCD: T-score categories do not apply to young adults (age on the scan's date)."""
    p = pd.DataFrame({"sex": [sex], "birth": [pd.Timestamp(birth)], "post": pd.array([post], dtype="boolean")})
    age = age_years(p["birth"], pd.Series([pd.Timestamp("2026-06-01")]))
    assert bool(is_young_adult(p["sex"], p["post"], age, settings=TH).iloc[0]) is young


# --- §1 schedule ---------------------------------------------------------------------------

S = ScheduleSettings()


def sched(c, as_of):
    out = schedule(c, as_of=D(as_of), settings=S)
    assert len(out) == 1
    return out.iloc[0]


@pytest.mark.parametrize("pregnancy, as_of, due, status, deferred", [
    # last hip scan 2024-06-01, no risk factor: due 2026-06-01
    (preg("2026-08-01"), "2026-05-01", "2026-08-16", "not_due", True),            # due on a pregnant day: expected + 15
    (preg("2026-08-01", "2026-07-10"), "2026-07-20", "2026-07-11", "due", True),  # the day after the delivery
    (preg("2026-08-01", "2026-07-10"), "2026-07-01", "2026-08-16", "due_soon", True),  # delivery not yet known
    (preg("2026-08-01"), "2026-08-20", "2026-08-16", "due", True),               # undelivered: expected + 15
    (preg("2027-03-10"), "2026-05-01", "2026-06-01", "due_soon", False),          # pregnancy starts 2026-06-03
    (preg("2027-03-08"), "2026-05-01", "2027-03-23", "not_due", True),            # starts 2026-06-01, the due day
    (preg("2025-01-01", "2025-01-01"), "2026-06-01", "2026-06-01", "due", False),  # an old pregnancy: no effect
])
def test_dxa_deferred_in_pregnancy(pregnancy, as_of, due, status, deferred):
    """No DXA (X-rays) during pregnancy: the due date moves to the day after delivery, status on it."""
    c = cohort(patients=[woman(birth="1990-01-01")], scans=[scan(day="2024-06-01")], pregnancies=[pregnancy])
    row = sched(c, as_of)
    assert (str(row["due_date"].date()), row["status"]) == (due, status)
    assert row["due_reason"].startswith("deferred: no DXA during pregnancy") is deferred


def test_overdue_scan_while_pregnant_waits_for_delivery():
    """Pregnant on as_of with a scan already overdue: no reminder to scan now; due after delivery."""
    c = cohort(patients=[woman(birth="1990-01-01")], scans=[scan(day="2023-01-01")],
               pregnancies=[preg("2026-09-01")])
    row = sched(c, "2026-06-01")
    assert str(row["due_date"].date()) == "2026-09-16" and row["status"] == "not_due"
    assert "was due 2025-01-01" in row["due_reason"]


def test_spine_only_scan_does_not_restart_the_hip_clock():
    """Both hips are what is monitored: a spine-only scan leaves the hip interval running."""
    c = cohort(scans=[scan(day="2024-01-01"), scan(day="2025-06-01", sites={("lumbar_spine", ""): 1.0})])
    row = sched(c, "2026-01-01")
    assert str(row["last_scan_date"].date()) == "2024-01-01" and str(row["due_date"].date()) == "2026-01-01"


def test_spine_only_scan_is_not_a_baseline():
    """After a diagnosis the baseline is a hip scan; a spine-only scan does not satisfy it."""
    c = cohort(episodes=[episode(onset="2025-01-01", diagnosed="2025-02-01")],
               scans=[scan(day="2025-03-01", sites={("lumbar_spine", ""): 1.0})])
    row = sched(c, "2025-04-01")
    assert row["is_baseline"] and str(row["due_date"].date()) == "2025-02-01"


@pytest.mark.parametrize("smoker, drinks, derived", [
    (True, 0, {"smoking"}), (False, 2, set()), (False, 2.1, {"alcohol_excess"}), (None, None, set()),
])
def test_smoking_and_alcohol_from_the_latest_assessment(smoker, drinks, derived):
    """Smoking and more than 2 drinks a day are risk factors [2] even when staff did not code them."""
    c = cohort(assessments=[dict(patient_id=1, assessed_on="2024-01-01", smoker=True, alcohol_drinks_day=5),
                            dict(patient_id=1, assessed_on="2025-01-01", smoker=smoker, alcohol_drinks_day=drinks)])
    table = risk_factor_table(c)
    assert set(table["code"]) == derived
    assert sched(cohort(assessments=[dict(patient_id=1, assessed_on="2025-01-01", smoker=True)],
                        scans=[scan(day="2025-01-01")]), "2025-06-01")["interval_months"] == 12
