"""PROTOCOL.md version 2, "Safety first": no unsafe drug prompt, no hidden sign, no missed window."""

from datetime import date

import pytest

from monitor.config import Config, parse_config
from tests.unit.cohorts import cohort, episode, patient, scan
from tests.unit.test_protocol_v2 import codes, flags, hips, one_flag, pain, preg, tx, woman

CFG = Config()
D = date.fromisoformat


# --- §4 thresholds: never for young adults, in pregnancy or breastfeeding, or on treatment ------

def low_t(*, birth="1960-01-01", sex="F", post=True, pregnancies=(), treatments=(), t=-2.5, z=-1.0,
          resolved="2024-01-01", scan_on="2025-06-01"):
    p = patient(sex=sex, birth=birth, risks="smoking")
    p["postmenopausal"] = post
    return cohort(patients=[p], episodes=[episode(onset="2023-06-01", resolved=resolved)],
                  scans=[scan(day=scan_on, sites=hips(t=t, z=z))], pregnancies=list(pregnancies),
                  treatments=list(treatments))


TREATMENT_CODES = {"therapy_indicated", "persistent_osteopenia", "low_bmd_defer_treatment", "low_for_age",
                   "on_bone_treatment"}


@pytest.mark.parametrize("case, as_of, expected", [
    (low_t(), "2026-06-01", {"therapy_indicated", "persistent_osteopenia"}),
    (low_t(treatments=[tx("Fosamax", "2025-07-01")]), "2026-06-01", {"on_bone_treatment"}),
    (low_t(treatments=[tx("Prolia", "2025-07-01", stopped="2026-06-01")]), "2026-06-01", {"on_bone_treatment"}),
    (low_t(treatments=[tx("Prolia", "2025-07-01", stopped="2026-05-31")]), "2026-06-01",
     {"therapy_indicated", "persistent_osteopenia"}),  # stopped yesterday: no longer on treatment
    (low_t(treatments=[tx("calcium + vitamin D", "2025-07-01")]), "2026-06-01",
     {"therapy_indicated", "persistent_osteopenia"}),  # calcium and vitamin D are not bone treatment
    (low_t(birth="1990-01-01", post=None, pregnancies=[preg("2026-09-01")]), "2026-06-01", set()),  # young: Z -1.0
    (low_t(birth="1990-01-01", post=None, z=-2.0), "2026-06-01", {"low_for_age"}),
    (low_t(birth="1990-01-01", post=None, z=-2.0, pregnancies=[preg("2026-09-01")]), "2026-06-01",
     {"low_for_age", "low_bmd_defer_treatment"}),  # also in pregnancy; no drug decision now
    (low_t(post=False, birth="1972-01-01", pregnancies=[preg("2026-03-01", "2026-03-01", ongoing=True)]),
     "2026-06-01", set()),  # premenopausal at 54 (a young adult), Z -1.0, breastfeeding: nothing to defer
    (low_t(pregnancies=[preg("2026-03-01", "2026-03-01", until="2026-05-31")]), "2026-06-01",
     {"therapy_indicated", "persistent_osteopenia"}),  # weaned yesterday
    (low_t(pregnancies=[preg("2026-03-01", "2026-03-01", until="2026-06-01")]), "2026-06-01",
     {"low_bmd_defer_treatment"}),  # still breastfeeding today
    (low_t(pregnancies=[preg("2027-03-08")]), "2026-06-01", {"low_bmd_defer_treatment"}),  # pregnant from today
    (low_t(pregnancies=[preg("2027-03-09")]), "2026-06-01", {"therapy_indicated", "persistent_osteopenia"}),
])
def test_who_gets_a_treatment_threshold_flag(case, as_of, expected):
    """No drug prompt for a young adult (ISCD), in pregnancy or breastfeeding (labelling), or on treatment."""
    assert codes(case, as_of) & TREATMENT_CODES == expected


def test_threshold_is_compared_as_recorded():
    """T -2.05 is below -2.0 and is shown as -2.05, never as a rounded "-2.0" or "-2.1"."""
    ev = one_flag(low_t(t=-2.05), "therapy_indicated", "2026-06-01")["evidence"]
    assert "lowest hip T-score -2.05 (< -2)" in ev


def test_on_bone_treatment_card_names_drug_and_start():
    """The clinic sees what the patient is already on, so no second antiresorptive is stacked."""
    f = one_flag(low_t(treatments=[tx("Prolia", "2025-07-01")]), "on_bone_treatment", "2026-06-01")
    assert f["evidence"] == "on bone treatment: Prolia (denosumab) since 2025-07-01"
    assert f["severity"] == "info" and "No second bone drug" in f["action"]


def test_recovery_options_wording_by_patient_group():
    """What shortens recovery: drugs normally; never a drug while pregnant or breastfeeding; the current drug."""
    active = [episode(onset="2026-03-01")]
    plain = one_flag(cohort(episodes=active), "recovery_options", "2026-06-01")["action"]
    assert plain.startswith("Consider bisphosphonates, calcitonin or teriparatide")
    pregnant = cohort(patients=[woman()], episodes=active, pregnancies=[preg("2026-10-01")])
    action = one_flag(pregnant, "recovery_options", "2026-06-01")["action"]
    assert "after pregnancy and breastfeeding" in action and "bisphosphonate" not in action
    treated = cohort(episodes=active, treatments=[tx("Aclasta", "2026-04-01")])
    f = one_flag(treated, "recovery_options", "2026-06-01")
    assert "Aclasta (zoledronic acid)" in f["evidence"] and "no second bone drug" in f["action"]


def fractured_pregnancy(pregnancy, *, joint="hip", resolved=None):
    return cohort(patients=[woman()], pregnancies=[pregnancy],
                  episodes=[episode(onset="2026-02-01", joint=joint, pregnancy=True, fracture=True, resolved=resolved)])


@pytest.mark.parametrize("pregnancy, as_of, wording", [
    (preg("2026-03-01"), "2026-02-20", None),                                              # not delivered yet
    (preg("2026-03-01", "2026-03-01", ongoing=True), "2026-06-01", "No bone drug while breastfeeding"),
    (preg("2026-03-01", "2026-03-01", until="2026-04-30"), "2026-06-01", "alendronic acid 70 mg weekly"),
])
def test_post_fracture_treatment_waits_for_delivery_and_weaning(pregnancy, as_of, wording):
    """Alendronic acid after a pregnancy-associated fracture [5] — only once delivered and not breastfeeding."""
    f = flags(fractured_pregnancy(pregnancy), as_of)
    rows = f.loc[f["code"] == "post_fracture_treatment", "action"].tolist()
    assert (rows[0] if rows else None) is None if wording is None else wording in rows[0]


@pytest.mark.parametrize("joint, resolved, severity, names_hip_surgery", [
    ("hip", None, "urgent", True),
    ("knee", None, "urgent", False),   # a knee is never referred for hip arthroplasty
    ("hip", "2026-05-01", None, None),
])
def test_fracture_referral_is_joint_appropriate(joint, resolved, severity, names_hip_surgery):
    """A fracture needs surgical referral for that joint, urgent while the episode is unresolved [5, 6]."""
    c = fractured_pregnancy(preg("2026-03-01", "2026-03-01"), joint=joint, resolved=resolved)
    f = flags(c, "2026-06-01")
    rows = f.loc[f["code"] == "fracture_surgical_referral"]
    assert "pregnancy_toh_fracture_risk" not in set(f["code"])  # the referral takes its place
    if severity is None:
        assert rows.empty
    else:
        assert rows["severity"].iloc[0] == severity
        assert ("arthroplasty" in rows["action"].iloc[0]) is names_hip_surgery


# --- §2 trend -------------------------------------------------------------------------------

def two_scans(left, right, *, episodes=(), before=(0.9, 0.9), pregnancies=(), patients=None):
    return cohort(patients=patients, episodes=list(episodes), pregnancies=list(pregnancies),
                  scans=[scan(day="2024-01-01", sites=hips(*before)), scan(day="2025-01-01", sites=hips(left, right))])


TREND = {"contralateral_decline", "affected_decline_after_resolution", "bilateral_decline", "affected_recovery"}


@pytest.mark.parametrize("case, expected", [
    # loss at the right hip while the left episode is active: migration, never "generalized loss"
    (two_scans(0.85, 0.85, episodes=[episode(onset="2024-06-01")]), {"contralateral_decline"}),
    (two_scans(0.9, 0.85, episodes=[episode(onset="2024-06-01")]), {"contralateral_decline"}),
    # no episode at all: both hips lose, each is contralateral and the loss is generalized
    (two_scans(0.85, 0.85), {"contralateral_decline", "bilateral_decline"}),
    # affected_recovery only when the latest change is a gain
    (cohort(episodes=[episode(onset="2023-06-01")],
            scans=[scan(day="2023-07-01", sites=hips(0.80)), scan(day="2024-07-01", sites=hips(0.90)),
                   scan(day="2025-07-01", sites=hips(0.86))]), set()),
    (cohort(episodes=[episode(onset="2023-06-01")],
            scans=[scan(day="2023-07-01", sites=hips(0.80)), scan(day="2024-07-01", sites=hips(0.86))]),
     {"affected_recovery"}),
])
def test_trend_flags_version_2(case, expected):
    """A sign of migration is never relabelled; recovery is claimed only on a latest gain."""
    assert codes(case, "2026-06-01") & TREND == expected


@pytest.mark.parametrize("after, significant", [(0.8751, False), (0.875, True)])
def test_full_precision_lsc_and_consistent_rounding(after, significant):
    """A loss of 0.0249 is below the LSC 0.025 and is never displayed as "0.025"."""
    c = cohort(scans=[scan(day="2024-01-01", sites={("total_hip", "right"): 0.9}),
                      scan(day="2025-01-01", sites={("total_hip", "right"): after})])
    f = flags(c, "2026-06-01")
    ev = f.loc[f["code"] == "contralateral_decline", "evidence"].tolist()
    assert bool(ev) is significant
    from monitor.rules.trends import format_delta

    assert format_delta(after - 0.9, 0.025) == ("-0.025" if significant else "-0.0249")


def test_lactation_note_on_loss_while_breastfeeding():
    """Loss while breastfeeding is usually physiological: recheck after weaning, do not treat now."""
    c = two_scans(0.9, 0.85, patients=[woman()], pregnancies=[preg("2024-08-01", "2024-08-01", ongoing=True)])
    ev = one_flag(c, "contralateral_decline", "2025-02-01")["evidence"]
    assert ev.endswith("recovers after weaning; recheck after weaning")


# --- §3 recurrence, new symptoms --------------------------------------------------------------

@pytest.mark.parametrize("as_of, severity", [("2026-01-31", "warn"), ("2026-02-01", "info")])
def test_recurrence_falls_to_history_after_recent_months(as_of, severity):
    """A recurrence that resolved exactly 12 months ago is history (info); the day before it is a warning."""
    c = cohort(episodes=[episode(onset="2020-01-01", resolved="2020-08-01"),
                         episode(onset="2024-06-01", resolved="2025-02-01")])
    f = one_flag(c, "recurrence_same_site", as_of)
    assert f["severity"] == severity and (f["evidence"].startswith("history") is (severity == "info"))


def test_recent_months_is_configurable():
    """The clinic may keep recurrence a warning for longer."""
    c = cohort(episodes=[episode(onset="2020-01-01", resolved="2020-08-01"),
                         episode(onset="2024-06-01", resolved="2025-02-01")])
    config = parse_config({"thresholds": {"recent_months": 24}})
    assert flags(c, "2026-02-01", config).set_index("code").loc["recurrence_same_site", "severity"] == "warn"


def joint_pain_case(report, *, complaint="hip_pain", side="left", mri=None, resolved="2024-06-01", more=()):
    return cohort(episodes=[episode(onset="2024-01-01", resolved=resolved), *more],
                  symptoms=[pain(report, complaint=complaint, side=side)],
                  mri=[dict(patient_id=1, study_date=mri, joint="hip", side="left", reported_as="normal")] if mri else [])


@pytest.mark.parametrize("case, raised", [
    (joint_pain_case("2025-03-01"), True),                       # the resolved hip hurts again
    (joint_pain_case("2025-03-01", complaint="groin_pain"), True),  # groin counts as hip
    (joint_pain_case("2025-03-01", complaint="knee_pain", side="right"), True),  # migration to a knee
    (joint_pain_case("2024-03-01", resolved=None), False),      # the active episode itself
    (joint_pain_case("2024-03-01", resolved="2024-06-01"), False),  # during the episode, since resolved
    (joint_pain_case("2025-03-01", mri="2025-03-01"), False),   # an MRI that day answers it
    (joint_pain_case("2025-03-01", mri="2025-02-28"), True),    # an MRI before the report does not
    (joint_pain_case("2023-12-01"), False),                     # before the first episode: not after TOH
    (joint_pain_case("2025-03-01", more=[episode(onset="2025-04-01")]), False),  # became a recorded episode
])
def test_new_joint_pain_after_toh(case, raised):
    """New hip, groin, knee or ankle pain after TOH: MRI is the method of choice for recurrence [2, 4]."""
    assert ("new_joint_pain_after_toh" in codes(case, "2026-06-01")) is raised


def test_new_joint_pain_defers_to_the_pregnancy_flag():
    """A postpartum hip pain already raises the urgent pregnancy flag; it is not raised twice."""
    c = cohort(patients=[woman()], episodes=[episode(onset="2024-01-01", resolved="2024-06-01")],
               pregnancies=[preg("2026-05-01", "2026-05-01")], symptoms=[pain("2026-05-20")])
    got = codes(c, "2026-06-01")
    assert "pregnancy_hip_pain_mri" in got and "new_joint_pain_after_toh" not in got


# --- §5 pregnancy, §7 pitfalls ------------------------------------------------------------------

@pytest.mark.parametrize("delivered, report, as_of, raised", [
    ("2026-03-25", "2026-03-30", "2026-04-01", True),   # delivery at 24 weeks; hip pain 5 days postpartum
    ("2026-03-25", "2026-03-20", "2026-04-01", False),  # at 23 weeks, before the third trimester and delivery
    (None, "2026-07-10", "2026-07-12", True),           # third trimester (expected 2026-07-08 + 13 weeks)
])
def test_postpartum_window_from_the_actual_delivery(delivered, report, as_of, raised):
    """A preterm delivery starts the postpartum window at once, even before the third trimester."""
    c = cohort(patients=[woman()], pregnancies=[preg("2026-07-08", delivered)], symptoms=[pain(report)])
    assert ("pregnancy_hip_pain_mri" in codes(c, as_of)) is raised


@pytest.mark.parametrize("reports, raised", [
    ([pain("2026-02-01", progressive=True, weight_bearing=True)], True),
    ([pain("2026-02-01", progressive=True, weight_bearing=True), pain("2026-02-10", weight_bearing=False)], False),
    ([pain("2026-02-01", progressive=True, weight_bearing=True), pain("2026-02-10", side="right",
                                                                      weight_bearing=False)], True),  # other side
    ([pain("2026-02-01", progressive=True, weight_bearing=True, side="right")], False),  # no episode there
    ([pain("2026-02-01", progressive=True, weight_bearing=True, complaint="groin_pain")], True),
])
def test_weight_bearing_flag_clears(reports, raised):
    """Weight-bearing on progressive pain is urgent [5, 6] until a later report says it stopped there."""
    c = cohort(episodes=[episode(onset="2026-01-01")], symptoms=reports)
    assert ("weight_bearing_despite_pain" in codes(c, "2026-03-01")) is raised


def assess(**values):
    row = dict(patient_id=1, assessed_on="2026-01-01", calcium_mg_day=1000, vitamin_d_iu_day=600,
               serum_25ohd_ng_ml=20, exercise_min_day=30, smoker=False, alcohol_drinks_day=0)
    row.update(values)
    return row


@pytest.mark.parametrize("values, pregnancies, treatments, gaps", [
    ({"serum_25ohd_ng_ml": 19.6}, [], [], ["serum 25(OH)D 19.6 ng/mL (target >= 20)"]),  # never shown as "20"
    ({"alcohol_drinks_day": 1}, [], [], []),
    ({"alcohol_drinks_day": 1}, [preg("2026-03-01", "2026-03-01", ongoing=True)], [],
     ["alcohol 1 drinks/day; pregnant or breastfeeding now (no alcohol)"]),
    ({"alcohol_drinks_day": 0.5}, [preg("2026-09-01")], [],
     ["alcohol 0.5 drinks/day; pregnant or breastfeeding now (no alcohol)"]),
    ({"calcium_mg_day": 500}, [], [tx("calcium carbonate", dose="500 mg daily")], []),
    ({"calcium_mg_day": 400}, [], [tx("calcium carbonate", dose="500 mg daily")],
     ["calcium 400 mg/day in the diet + current calcium carbonate 500 mg daily = 900 mg/day (target 1,000-1,200)"]),
    ({"vitamin_d_iu_day": 200}, [], [tx("calcium + vitamin D", dose="1000 mg + 800 IU daily")], []),
    ({"calcium_mg_day": 500}, [], [tx("calcium carbonate", dose="500 mg daily", stopped="2026-05-31")],
     ["calcium 500 mg/day (target 1,000-1,200)"]),  # stopped yesterday: no longer counts
])
def test_prevention_gap_version_2(values, pregnancies, treatments, gaps):
    """Gaps as recorded, supplements count toward intake, no alcohol at all in pregnancy or breastfeeding."""
    c = cohort(patients=[woman()], assessments=[assess(**values)], pregnancies=pregnancies, treatments=treatments)
    f = flags(c, "2026-06-01")
    assert [e.split(": ", 1)[1] for e in f.loc[f["code"] == "prevention_gap", "evidence"]] == gaps
