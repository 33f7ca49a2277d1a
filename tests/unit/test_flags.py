"""PROTOCOL.md §2–§7: every flag raised where it must be and silent where it must not."""

from datetime import date

import pandas as pd
import pytest

from monitor.config import Config, parse_config
from monitor.rules.flags import evaluate_flags
from monitor.rules.trends import trend_table
from tests.unit.cohorts import cohort, episode, patient, scan

CFG = Config()
D = date.fromisoformat
HIPS = (("total_hip", "left"), ("femoral_neck", "left"), ("total_hip", "right"), ("femoral_neck", "right"))


def hips(left=0.9, right=0.9, t=-1.0, z=-0.5):
    """Both hips of one scan: BMD per side, the same T and Z everywhere."""
    return {("total_hip", "left"): (left, t, z), ("femoral_neck", "left"): (left, t, z),
            ("total_hip", "right"): (right, t, z), ("femoral_neck", "right"): (right, t, z)}


def codes(c, as_of="2026-06-01", config=CFG, pid=None):
    flags = evaluate_flags(c, as_of=D(as_of), config=config)
    if pid is not None:
        flags = flags.loc[flags["patient_id"] == pid]
    return flags


def has(c, code, **kw):
    return code in set(codes(c, **kw)["code"])


def evidence(c, code, **kw):
    f = codes(c, **kw)
    return list(f.loc[f["code"] == code, "evidence"])


# --- §2 trend -------------------------------------------------------------------------------

@pytest.mark.parametrize("site, before, after, significant", [
    ("total_hip", 0.900, 0.875, True),      # exactly the LSC 0.025
    ("total_hip", 0.900, 0.876, False),     # 0.024
    ("femoral_neck", 0.800, 0.765, True),   # exactly 0.035
    ("femoral_neck", 0.800, 0.766, False),
    ("lumbar_spine", 1.000, 1.030, True),   # exactly 0.030, a gain
    ("lumbar_spine", 1.000, 1.029, False),
])
def test_significance_at_the_lsc(site, before, after, significant):
    """A change exactly at the LSC is significant; a hair less is not."""
    side = "" if site == "lumbar_spine" else "left"
    c = cohort(scans=[scan(day="2024-01-01", sites={(site, side): before}),
                      scan(day="2025-01-01", sites={(site, side): after})])
    t = trend_table(c.scans, settings=CFG.trend)
    last = t.loc[t["is_latest"]].iloc[0]
    assert bool(last["significant_prev"]) is significant and bool(last["significant_base"]) is significant


def test_trend_reports_grams_percent_and_rate():
    """Change is given in g/cm², %, %/year, against the previous scan and the baseline."""
    c = cohort(scans=[scan(day="2022-01-01", sites={("total_hip", "left"): 1.000}),
                      scan(day="2023-01-01", sites={("total_hip", "left"): 0.950}),
                      scan(day="2025-01-01", sites={("total_hip", "left"): 0.900})])
    last = trend_table(c.scans, settings=CFG.trend).iloc[-1]
    assert last["delta_prev"] == pytest.approx(-0.05) and last["pct_prev"] == pytest.approx(-5.26)
    assert last["pct_year_prev"] == pytest.approx(-100 * 0.05 / 0.95 / (731 / 365.25), abs=0.006)
    assert last["delta_base"] == pytest.approx(-0.1) and last["pct_base"] == pytest.approx(-10.0)
    assert str(last["base_date"].date()) == "2022-01-01"


def test_measured_precision_replaces_the_default_lsc():
    """With the clinic's own precision (LSC 2.77 x 0.01 = 0.0277), a 0.025 change is noise."""
    c = cohort(scans=[scan(day="2024-01-01", sites={("total_hip", "left"): 0.9}),
                      scan(day="2025-01-01", sites={("total_hip", "left"): 0.875})])
    settings = parse_config({"trend": {"precision_total_hip": 0.01}}).trend
    last = trend_table(c.scans, settings=settings).iloc[-1]
    assert not last["significant_prev"] and last["lsc_measured"] and last["lsc_g_cm2"] == pytest.approx(0.0277)


def test_scanner_change_breaks_the_series():
    """A make change makes BMD not comparable: no decline is judged across it; scanner_changed says why."""
    c = cohort(episodes=[episode(side="left", onset="2020-01-01", resolved="2020-08-01")],
               scans=[scan(day="2023-01-01", sites=hips(0.9, 0.9), scanner="hologic"),
                      scan(day="2024-01-01", sites=hips(0.9, 0.80), scanner="ge_lunar")])
    got = set(codes(c)["code"])
    assert "scanner_changed" in got and "contralateral_decline" not in got
    assert evidence(c, "scanner_changed") == [
        "scanner hologic → ge_lunar on 2024-01-01; changes are computed within one make only"]


def case(left_after, right_after, *, resolved="2021-08-01", left_before=0.9, right_before=0.9):
    """Left hip affected (episode 2021); scans 2024 and 2025 with the given BMD."""
    return cohort(episodes=[episode(side="left", onset="2021-01-01", resolved=resolved)],
                  scans=[scan(day="2024-01-01", sites=hips(left_before, right_before)),
                         scan(day="2025-01-01", sites=hips(left_after, right_after))])


@pytest.mark.parametrize("c, expected", [
    (case(0.9, 0.85), {"contralateral_decline"}),
    (case(0.85, 0.9), {"affected_decline_after_resolution"}),
    (case(0.85, 0.9, resolved=None), set()),  # loss during the active episode is the disease itself
    (case(0.85, 0.85), {"bilateral_decline", "contralateral_decline", "affected_decline_after_resolution"}),  # v2: beside, not instead of
    (case(0.95, 0.9), {"affected_recovery"}),
    (case(0.88, 0.88), set()),  # within the LSC at the total hip, below it at the femoral neck
])
def test_bilateral_trend_flags(c, expected):
    """Loss at the other hip, the same hip after resolution, both hips; gain at the affected hip."""
    trend_codes = {"contralateral_decline", "affected_decline_after_resolution", "bilateral_decline",
                   "affected_recovery"}
    assert set(codes(c)["code"]) & trend_codes == expected


def test_decline_evidence_reads_as_a_clinician_expects():
    """Evidence names side, site, values, change and the LSC with its origin."""
    ev = evidence(case(0.9, 0.85), "contralateral_decline")[0]
    assert ev.startswith("right total hip 0.900 → 0.850 g/cm² (-0.050; -5.6 %; -5.5 %/yr) 2024-01-01 → 2025-01-01 "
                         "vs previous (LSC 0.025 g/cm², default, not measured here)")


def test_slow_decline_is_caught_against_the_baseline():
    """Steps each below the LSC add up: the comparison with the baseline catches them."""
    c = cohort(episodes=[episode(side="left", resolved="2022-06-01")],
               scans=[scan(day="2023-01-01", sites=hips(0.9, 0.90)), scan(day="2024-01-01", sites=hips(0.9, 0.88)),
                      scan(day="2025-01-01", sites=hips(0.9, 0.86))])
    ev = evidence(c, "contralateral_decline")
    assert ev and "vs baseline" in ev[0]


# --- §4 thresholds ----------------------------------------------------------------------------

def osteo(t, *, treatments=(), resolved="2023-01-01", risks="", sex="M", birth="1960-01-01", z=-0.5, post=None):
    p = patient(risks=risks, sex=sex, birth=birth)
    if post is not None:
        p["postmenopausal"] = post
    return cohort(patients=[p], episodes=[episode(onset="2022-01-01", resolved=resolved)],
                  scans=[scan(day="2024-01-01", sites=hips(t=t, z=z))], treatments=list(treatments))


@pytest.mark.parametrize("t, raised", [(-1.5, True), (-1.4, False), (-2.5, True)])
def test_persistent_osteopenia_boundary(t, raised):
    """T-score <= -1.5 after resolution: consider alendronate 70 mg weekly [5]; exactly -1.5 counts."""
    assert has(osteo(t), "persistent_osteopenia") is raised


def test_persistent_osteopenia_silent_with_current_bisphosphonate():
    """Not raised while a bisphosphonate is current; raised again once it was stopped."""
    current = [dict(patient_id=1, drug="Alendronate", dose="70 mg", started_on="2024-02-01", stopped_on=None)]
    stopped = [dict(patient_id=1, drug="alendronic acid", dose="70 mg", started_on="2024-02-01",
                    stopped_on="2025-01-01")]
    assert not has(osteo(-1.8, treatments=current), "persistent_osteopenia")
    assert has(osteo(-1.8, treatments=stopped), "persistent_osteopenia")
    # A stop date still ahead of as_of: the drug is current on as_of.
    assert not has(osteo(-1.8, treatments=stopped), "persistent_osteopenia", as_of="2024-06-01")


def test_persistent_osteopenia_needs_resolution_and_a_later_scan():
    """During an active episode, or on a scan before resolution, low BMD is the episode itself."""
    assert not has(osteo(-1.8, resolved=None), "persistent_osteopenia")
    assert not has(osteo(-1.8, resolved="2024-03-01"), "persistent_osteopenia")


@pytest.mark.parametrize("t, risks, raised", [
    (-2.0, "smoking", False),   # the threshold is strict: below -2.0
    (-2.1, "smoking", True),
    (-2.1, "", False),          # no additional risk factor
])
def test_therapy_indicated(t, risks, raised):
    """T below -2.0 with an additional risk factor: therapy strongly considered [2]."""
    f = codes(osteo(t, risks=risks))
    assert ("therapy_indicated" in set(f["code"])) is raised
    if raised:
        assert f.loc[f["code"] == "therapy_indicated", "severity"].iloc[0] == "urgent"


@pytest.mark.parametrize("sex, birth, post, z, low, therapy", [
    ("M", "1980-06-01", None, -2.0, True, False),    # man of 43: Z counts, boundary -2.0 included
    ("M", "1980-06-01", None, -1.9, False, False),   # young adult: never a T-score flag (ISCD)
    ("M", "1960-06-01", None, -2.5, False, True),    # man of 63: T-scores as usual
    ("F", "1980-06-01", None, -2.2, True, False),    # woman under 50: premenopausal unless recorded
    ("F", "1980-06-01", True, -2.2, False, True),    # recorded postmenopausal
    ("F", "1970-06-01", False, -2.2, True, False),   # 53 and recorded premenopausal
])
def test_z_score_caveat_and_low_for_age(sex, birth, post, z, low, therapy):
    """Young adults: Z <= -2.0 is below the expected range; T-score thresholds do not apply (ISCD)."""
    c = osteo(-2.2, risks="smoking", sex=sex, birth=birth, z=z, post=post)
    assert has(c, "low_for_age") is low
    assert has(c, "therapy_indicated") is therapy


# --- §3 recurrence and migration --------------------------------------------------------------

@pytest.mark.parametrize("episodes, expected", [
    ([episode(onset="2020-01-01", resolved="2020-08-01"), episode(onset="2023-01-01")], {"recurrence_same_site"}),
    ([episode(onset="2020-01-01", resolved="2020-08-01"), episode(onset="2023-01-01", side="right")],
     {"recurrence_contralateral"}),
    ([episode(onset="2024-01-15", resolved="2024-05-01"), episode(onset="2025-01-15", joint="knee")],
     {"migratory_pattern"}),  # the window's last day
    ([episode(onset="2024-01-15", resolved="2024-05-01"), episode(onset="2025-01-16", joint="knee")], set()),
    ([episode(onset="2022-01-15"), episode(onset="2025-01-16", joint="ankle")], {"migratory_pattern"}),  # unresolved
    ([episode(onset="2024-01-15", resolved="2024-05-01"), episode(onset="2024-09-01", side="right")],
     {"recurrence_contralateral", "migratory_pattern"}),
])
def test_recurrence_and_migration(episodes, expected):
    """Same site after resolution, the other hip, or moving joints within 12 months [1]."""
    got = set(codes(cohort(episodes=episodes))["code"])
    assert got & {"recurrence_same_site", "recurrence_contralateral", "migratory_pattern"} == expected


# --- §5 pregnancy -------------------------------------------------------------------------------

def pregnant(report, *, mri=None, delivered="2026-03-01", as_of="2026-03-15", complaint="groin_pain"):
    c = cohort(patients=[patient(sex="F", birth="1992-01-01")],
               pregnancies=[dict(patient_id=1, expected_delivery="2026-03-01", delivered_on=delivered)],
               symptoms=[dict(patient_id=1, reported_on=report, complaint=complaint, side="left",
                              progressive=False, weight_bearing=True)],
               mri=[dict(patient_id=1, study_date=mri, joint="hip", side="left", t1_low=True, t2_high=True,
                         edema_homogeneous=True, subchondral_normal=True, subchondral_rim=False,
                         reported_as="toh", contrast=False)] if mri else [])
    return has(c, "pregnancy_hip_pain_mri", as_of=as_of)


@pytest.mark.parametrize("report, as_of, raised", [
    ("2025-11-30", "2026-01-01", True),    # first day of the third trimester (13 weeks before)
    ("2025-11-29", "2026-01-01", False),   # the day before
    ("2026-09-01", "2026-09-01", True),    # last day of the 6-month postpartum window
    ("2026-09-02", "2026-09-02", False),
])
def test_pregnancy_hip_pain_window(report, as_of, raised):
    """Hip or groin pain in the third trimester or postpartum calls for a prompt MRI [6]."""
    assert pregnant(report, as_of=as_of) is raised


def test_pregnancy_hip_pain_silent_after_mri_and_when_not_hip_pain():
    """An MRI after the report answers it; knee pain is another question."""
    assert not pregnant("2026-02-01", mri="2026-02-03")
    assert pregnant("2026-02-01", mri="2026-01-15")
    assert not pregnant("2026-02-01", complaint="knee_pain")


def test_pregnancy_associated_episode_flags():
    """Unresolved pregnancy-associated TOH: fracture risk (urgent); with a fracture, surgical referral instead."""
    plain = cohort(patients=[patient(sex="F", birth="1992-01-01")],
                   episodes=[episode(onset="2026-01-01", pregnancy=True)])
    assert dict(zip(*[codes(plain, as_of="2026-03-01")[k] for k in ("code", "severity")]))[
        "pregnancy_toh_fracture_risk"] == "urgent"
    c = cohort(patients=[patient(sex="F", birth="1992-01-01")],
               episodes=[episode(onset="2026-01-01", pregnancy=True, fracture=True)])
    f = codes(c, as_of="2026-03-01")
    got = dict(zip(f["code"], f["severity"]))
    assert "pregnancy_toh_fracture_risk" not in got and got["fracture_surgical_referral"] == "urgent"
    assert "post_fracture_treatment" not in got  # no delivery recorded yet
    resolved = cohort(patients=[patient(sex="F")], episodes=[episode(onset="2026-01-01", resolved="2026-05-01",
                                                                      pregnancy=True)])
    assert not has(resolved, "pregnancy_toh_fracture_risk")


# --- §6 MRI -------------------------------------------------------------------------------------

@pytest.mark.parametrize("findings, reported, raised", [
    (dict(t1_low=True, t2_high=True, edema_homogeneous=True, subchondral_normal=True, subchondral_rim=False),
     "osteonecrosis", True),
    (dict(t1_low=True, t2_high=True, edema_homogeneous=True, subchondral_normal=True, subchondral_rim=True),
     "osteonecrosis", False),
    (dict(t1_low=True, t2_high=True, edema_homogeneous=True, subchondral_normal=False, subchondral_rim=False),
     "osteonecrosis", False),
    (dict(t1_low=True, t2_high=True, edema_homogeneous=True, subchondral_normal=True, subchondral_rim=False),
     "toh", False),
    (dict(t1_low=True, t2_high=None, edema_homogeneous=True, subchondral_normal=True, subchondral_rim=False),
     "osteonecrosis", False),  # a finding not recorded: not judged compatible
])
def test_mri_misread_risk(findings, reported, raised):
    """Read as osteonecrosis although the pattern is TOH: misreading delays diagnosis [7]."""
    c = cohort(mri=[dict(patient_id=1, study_date="2026-01-01", joint="hip", side="left", reported_as=reported,
                         contrast=False, **findings)])
    assert has(c, "mri_misread_risk") is raised


# --- §7 pitfalls and prevention -----------------------------------------------------------------

@pytest.mark.parametrize("resolved, progressive, weight_bearing, raised", [
    (None, True, True, True),
    ("2026-04-01", True, True, False),
    (None, True, False, False),
    (None, False, True, False),
])
def test_weight_bearing_despite_pain(resolved, progressive, weight_bearing, raised):
    """Progressive hip pain while still bearing weight on an unresolved episode is urgent [5, 6]."""
    c = cohort(episodes=[episode(onset="2026-01-01", resolved=resolved)],
               symptoms=[dict(patient_id=1, reported_on="2026-02-01", complaint="hip_pain", side="left",
                              progressive=progressive, weight_bearing=weight_bearing)])
    assert has(c, "weight_bearing_despite_pain") is raised


def test_active_episode_cards():
    """An active episode shows conservative management and what shortens recovery [4]."""
    f = codes(cohort(episodes=[episode(onset="2026-01-01")]))
    assert {"conservative_management", "recovery_options"} <= set(f["code"])
    assert not has(cohort(episodes=[episode(onset="2026-01-01", resolved="2026-05-01")]), "recovery_options")


def assess(**values):
    row = dict(patient_id=1, assessed_on="2026-01-01", calcium_mg_day=1000, vitamin_d_iu_day=600,
               serum_25ohd_ng_ml=20, exercise_min_day=30, smoker=False, alcohol_drinks_day=2)
    row.update(values)
    return row


@pytest.mark.parametrize("values, gaps", [
    ({}, []),  # every value exactly at its target
    ({"calcium_mg_day": 999}, ["calcium 999 mg/day"]),
    ({"vitamin_d_iu_day": 599}, ["vitamin D intake 599 IU/day"]),
    ({"serum_25ohd_ng_ml": 19}, ["serum 25(OH)D 19 ng/mL"]),
    ({"exercise_min_day": 29}, ["weight-bearing exercise 29 min/day"]),
    ({"smoker": True}, ["tobacco use"]),
    ({"alcohol_drinks_day": 3}, ["alcohol 3 drinks/day"]),
    ({"calcium_mg_day": None, "smoker": None}, []),  # not recorded: no claim
])
def test_prevention_gap_items(values, gaps):
    """One info item per measure below target in the latest assessment [2, 3]."""
    ev = evidence(cohort(assessments=[assess(**values)]), "prevention_gap")
    assert [e.split(": ", 1)[1].split(" (")[0] for e in ev] == gaps


@pytest.mark.parametrize("dose, gap", [("1,000 mg daily", False), ("1000 mg daily", False), ("500 mg daily", True)])
def test_a_supplement_written_with_a_thousands_comma_closes_the_calcium_gap(dose, gap):
    """300 mg in the diet + "1,000 mg" of calcium is 1,300 mg/day, not 301: no false gap (a
    clinician would be told to add calcium to a patient who already takes it)."""
    calcium = [dict(patient_id=1, drug="Calcium carbonate", dose=dose, started_on="2025-06-01", stopped_on=None)]
    ev = evidence(cohort(assessments=[assess(calcium_mg_day=300)], treatments=calcium), "prevention_gap")
    assert bool([e for e in ev if "calcium" in e]) == gap, ev


def test_exercise_gap_waits_for_weight_bearing():
    """During an active episode weight-bearing is restricted: no exercise reminder yet."""
    c = cohort(episodes=[episode(onset="2025-12-01")], assessments=[assess(exercise_min_day=0)])
    assert evidence(c, "prevention_gap") == []


def test_only_latest_assessment_counts():
    """A gap that was closed later is not raised."""
    c = cohort(assessments=[assess(assessed_on="2025-01-01", calcium_mg_day=500), assess()])
    assert evidence(c, "prevention_gap") == []


# --- general ------------------------------------------------------------------------------------

def test_inactive_patients_get_no_flags():
    """Only active patients are flagged."""
    c = cohort(patients=[patient(status="discharged")], episodes=[episode(onset="2026-01-01", pregnancy=True)])
    assert codes(c).empty


def test_every_flag_has_the_full_shape():
    """Code, severity, title, evidence, action and sources on every flag."""
    c = case(0.85, 0.85)
    f = codes(c)
    assert len(f) and f[["code", "severity", "title", "evidence", "action", "sources"]].ne("").all().all()


def test_same_history_any_order_same_flags():
    """The same history and as_of always give the same flags, whatever the input order."""
    from monitor.rules.cohort import Cohort
    from monitor.rules.evaluation import evaluate
    from monitor.demo.synth import generate

    frames = generate(400, seed=11, end_on=D("2026-06-01"))
    base = _to_cohort(frames)
    first = evaluate_flags(base, as_of=D("2026-06-01"), config=CFG)
    shuffled = Cohort(**{k: getattr(base, k).sample(frac=1, random_state=5).reset_index(drop=True)
                         for k in base.__dataclass_fields__})
    second = evaluate_flags(shuffled, as_of=D("2026-06-01"), config=CFG)
    assert len(first) > 20
    pd.testing.assert_frame_equal(first, second)
    assert evaluate(base, as_of=D("2026-06-01"), config=CFG).schedule.equals(
        evaluate(shuffled, as_of=D("2026-06-01"), config=CFG).schedule)


def _to_cohort(frames):
    """Synthetic CSV frames -> a Cohort, the way the importer would type them."""
    from monitor.rules.cohort import Cohort

    ids = {m: i for i, m in enumerate(frames["patients"]["mrn"], start=1)}
    out = {}
    for kind, f in frames.items():
        f = f.replace("", None).assign(patient_id=f["mrn"].map(ids))
        if kind == "scans":
            f = f.rename(columns={"bmd": "bmd_g_cm2"}).assign(side=f["side"].fillna(""))
        if kind == "symptoms":
            f = f.assign(side=f["side"].fillna(""))
        if kind == "pregnancies" and "breastfeeding_until" in f:
            ongoing = f["breastfeeding_until"] == "ongoing"
            f = f.assign(breastfeeding_ongoing=ongoing.where(f["breastfeeding_until"].notna()),
                         breastfeeding_until=f["breastfeeding_until"].where(~ongoing))
        for c in f.columns:
            if set(f[c].dropna().unique()) <= {"yes", "no"} and len(f[c].dropna()):
                f[c] = f[c].map({"yes": True, "no": False})
        out[kind] = f.drop(columns="mrn")
    out["patients"] = frames["patients"].replace("", None).assign(
        patient_id=range(1, len(frames["patients"]) + 1), risk_factors=frames["patients"]["risk_factors"],
        postmenopausal=frames["patients"]["postmenopausal"].map({"yes": True, "no": False}))
    return Cohort.from_frames(**out)


def test_codes_only_evaluation_raises_the_same_flags():
    """Skipping the evidence text (for lists that show codes) never changes which flags are raised."""
    base = _to_cohort(generate_cohort())
    full = evaluate_flags(base, as_of=D("2026-06-01"), config=CFG)
    codes_only = evaluate_flags(base, as_of=D("2026-06-01"), config=CFG, evidence=False)
    pd.testing.assert_frame_equal(full.drop(columns="evidence"), codes_only.drop(columns="evidence"))


def generate_cohort():
    from monitor.demo.synth import generate

    return generate(300, seed=13, end_on=D("2026-06-01"))
