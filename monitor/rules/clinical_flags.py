"""PROTOCOL.md §3, §4 (cards), §5, §6 and §7: recurrence and migration, pregnancy, MRI,
pitfalls, prevention. Pure functions of the cohort, already cut to `as_of`.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from monitor.rules.cohort import Cohort
from monitor.config import Config
from monitor.rules.flag_frames import (
    FLAG_COLUMNS,
    join_by,
    lookup,
    make_flags,
    per_patient_flags,
)
from monitor.rules.schedule import add_months

HIP_PAIN = ("hip_pain", "groin_pain", "low_back_pain_to_groin")


def _empty() -> pd.DataFrame:
    return pd.DataFrame(columns=FLAG_COLUMNS)


def _fmt(series: pd.Series) -> pd.Series:
    return series.dt.strftime("%Y-%m-%d").fillna("")


def _label(ep: pd.DataFrame, suffix: str = "") -> pd.Series:
    return ep[f"side{suffix}"] + " " + ep[f"joint{suffix}"] + " (onset " + _fmt(ep[f"onset_date{suffix}"]) + ")"


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else _empty()


def _episodes_in_order(cohort: Cohort) -> pd.DataFrame:
    """Episodes by patient and onset, so evidence lists them in time order whatever the input order."""
    return cohort.episodes.sort_values(["patient_id", "onset_date", "joint", "side"], kind="stable").reset_index(drop=True)


def recurrence_flags(cohort: Cohort, *, config: Config) -> pd.DataFrame:
    """recurrence_same_site, recurrence_contralateral and migratory_pattern [1]."""
    ep = _episodes_in_order(cohort)
    if len(ep) < 2:
        return _empty()
    ep["n"] = ep.groupby("patient_id").cumcount()
    pairs = ep.merge(ep, on="patient_id", suffixes=("", "_2"))
    pairs = pairs.loc[pairs["n"] < pairs["n_2"]]
    if not len(pairs):
        return _empty()
    same = (pairs["joint"] == pairs["joint_2"]) & (pairs["side"] == pairs["side_2"])
    parts = []
    rec = pairs.loc[same & pairs["resolved_on"].notna() & (pairs["onset_date_2"] > pairs["resolved_on"])]
    if len(rec):
        text = (_label(rec, "_2") + " after the episode of " + _fmt(rec["onset_date"]) + " resolved on "
                + _fmt(rec["resolved_on"]))
        ev = join_by(rec["patient_id"], text)
        parts.append(per_patient_flags(ev, code="recurrence_same_site", severity="warn",
                                       title="TOH recurred at the same site",
                                       action="Conservative management; MRI without IV contrast to confirm; yearly DXA",
                                       sources="1, 4"))
    contra = pairs.loc[(pairs["joint"] == "hip") & (pairs["joint_2"] == "hip") & (pairs["side"] != pairs["side_2"])]
    if len(contra):
        text = "new " + _label(contra, "_2") + " after the " + _label(contra)
        ev = join_by(contra["patient_id"], text)
        parts.append(per_patient_flags(ev, code="recurrence_contralateral", severity="warn",
                                       title="TOH at the other hip",
                                       action="Monitor both hips; MRI without IV contrast to confirm; yearly DXA",
                                       sources="1, 2"))
    window_end = add_months(pairs["onset_date"], config.thresholds.migratory_window_months)
    unresolved = pairs["resolved_on"].isna() | (pairs["resolved_on"] >= pairs["onset_date_2"])
    mig = pairs.loc[~same & ((pairs["onset_date_2"] <= window_end) | unresolved)]
    if len(mig):
        why = np.where(mig["onset_date_2"] <= window_end.loc[mig.index],
                       f"within {config.thresholds.migratory_window_months} months", "while the first was unresolved")
        text = _label(mig) + " → " + _label(mig, "_2") + " " + why
        ev = join_by(mig["patient_id"], text)
        parts.append(per_patient_flags(ev, code="migratory_pattern", severity="warn",
                                       title="Migratory pattern: TOH moving between joints or sides",
                                       action="Ask about knee, ankle and hip pain at each visit; migration is reported mostly "
                                              "within 6 months, sometimes up to 4 years, in 10-40 % of patients",
                                       sources="1"))
    return _concat(parts)


def _delivery(preg: pd.DataFrame) -> pd.Series:
    """The delivery date, or the expected one until a delivery is recorded."""
    return preg["delivered_on"].fillna(preg["expected_delivery"])


def pregnancy_flags(cohort: Cohort, *, as_of: date, config: Config) -> pd.DataFrame:
    """pregnancy_hip_pain_mri and pregnancy_toh_fracture_risk (urgent), the post-fracture card [5, 6]."""
    th = config.thresholds
    as_of_ts = pd.Timestamp(as_of)
    parts = []
    preg = cohort.pregnancies.copy()
    sym = cohort.symptoms.loc[cohort.symptoms["complaint"].isin(HIP_PAIN)]
    if len(preg) and len(sym):
        preg["delivery"] = _delivery(preg)
        preg["tri_start"] = (preg["expected_delivery"].fillna(preg["delivery"])
                             - pd.Timedelta(weeks=th.third_trimester_weeks))
        preg["pp_end"] = add_months(preg["delivery"], th.postpartum_months)
        hits = sym.merge(preg, on="patient_id").sort_values(
            ["patient_id", "reported_on", "complaint", "side", "delivery"], kind="stable")
        in_window = (hits["reported_on"] >= hits["tri_start"]) & (hits["reported_on"] <= hits["pp_end"])
        # Urgent while it can still prevent a fracture: up to the end of the postpartum window.
        hits = hits.loc[in_window & (as_of_ts <= hits["pp_end"])]
        mri = cohort.mri.loc[cohort.mri["joint"] == "hip"]
        if len(hits):
            last_mri = mri.groupby("patient_id")["study_date"].max()
            mri_after = lookup(hits["patient_id"], last_mri)
            hits = hits.loc[mri_after.isna() | (mri_after < hits["reported_on"])]
        if len(hits):
            phase = np.where(hits["reported_on"] < hits["delivery"], "third trimester", "postpartum")
            text = (hits["complaint"].str.replace("_", " ") + " reported " + _fmt(hits["reported_on"]) + " ("
                    + phase + ", delivery " + _fmt(hits["delivery"]) + "); no hip MRI since")
            ev = join_by(hits["patient_id"], text)
            parts.append(per_patient_flags(ev, code="pregnancy_hip_pain_mri", severity="urgent",
                                           title="Hip or groin pain in late pregnancy or postpartum without MRI",
                                           action="Obtain MRI (without IV contrast) promptly to diagnose TOH early and prevent "
                                                  "a femoral neck fracture; do not dismiss as pregnancy discomfort",
                                           sources="6"))
    ep = _episodes_in_order(cohort)
    preg_ep = ep.loc[ep["pregnancy_associated"].fillna(False).astype(bool)]
    active = preg_ep.loc[preg_ep["resolved_on"].isna()]
    if len(active):
        ev = join_by(active["patient_id"], "unresolved pregnancy-associated " + _label(active))
        parts.append(per_patient_flags(ev, code="pregnancy_toh_fracture_risk", severity="urgent",
                                       title="Pregnancy-associated TOH: highest risk of displaced femoral neck fracture",
                                       action="Restrict weight-bearing and use assistive devices until symptoms improve; "
                                              "urgent imaging for any increase in pain",
                                       sources="5, 6"))
    fractured = preg_ep.loc[preg_ep["fracture"].fillna(False).astype(bool)]
    if len(fractured):
        tr = cohort.treatments
        from monitor.rules.bmd_flags import BISPHOSPHONATE_RE

        first_bp = tr.loc[tr["drug"].str.contains(BISPHOSPHONATE_RE, regex=True)].groupby("patient_id")["started_on"].max()
        after = lookup(fractured["patient_id"], first_bp)
        open_ = fractured.loc[after.isna() | (after < fractured["onset_date"])]
        if len(open_):
            ev = join_by(open_["patient_id"], "fracture with pregnancy-associated " + _label(open_)
                         + "; no bisphosphonate recorded since")
            parts.append(per_patient_flags(ev, code="post_fracture_treatment", severity="info",
                                           title="After a pregnancy-associated fracture: treatment used in reported cases",
                                           action="After delivery, alendronic acid 70 mg weekly plus vitamin D for 3 months "
                                                  "has been used",
                                           sources="5"))
    return _concat(parts)


def mri_flags(cohort: Cohort) -> pd.DataFrame:
    """mri_misread_risk (warn): reported as osteonecrosis, findings TOH-compatible [2, 7]."""
    mri = cohort.mri
    if not len(mri):
        return _empty()
    latest = mri.loc[mri["study_date"] == mri.groupby(["patient_id", "joint", "side"])["study_date"].transform("max")]
    def yes(c):
        return latest[c].fillna(False).astype(bool)

    def no(c):
        return (~latest[c].fillna(True)).astype(bool)

    compatible = yes("t1_low") & yes("t2_high") & yes("edema_homogeneous") & yes("subchondral_normal") & no("subchondral_rim")
    hit = latest.loc[compatible & (latest["reported_as"] == "osteonecrosis")].sort_values(
        ["patient_id", "study_date", "joint", "side"], kind="stable")
    if not len(hit):
        return _empty()
    text = ("MRI " + _fmt(hit["study_date"]) + " " + hit["side"] + " " + hit["joint"]
            + ": reported as osteonecrosis, but T1 low, T2 high, homogeneous edema, normal subchondral area, no rim "
              "(the TOH pattern)")
    ev = join_by(hit["patient_id"], text)
    return per_patient_flags(ev, code="mri_misread_risk", severity="warn",
                             title="MRI read as osteonecrosis but the findings fit TOH",
                             action="Ask the radiologist to review: osteonecrosis shows a subchondral rim; misreading delays "
                                    "the diagnosis",
                             sources="2, 7")


def pitfall_flags(cohort: Cohort) -> pd.DataFrame:
    """weight_bearing_despite_pain (urgent) and the management cards of an active episode [4, 5, 6]."""
    ep = _episodes_in_order(cohort)
    active = ep.loc[ep["resolved_on"].isna()]
    if not len(active):
        return _empty()
    parts = []
    first_onset = active.groupby("patient_id")["onset_date"].min()
    sym = cohort.symptoms
    pain = sym.loc[sym["complaint"].isin(("hip_pain", "groin_pain")) & sym["progressive"].fillna(False).astype(bool)
                   & sym["weight_bearing"].fillna(False).astype(bool)]
    pain = pain.loc[pain["reported_on"] >= lookup(pain["patient_id"], first_onset)].sort_values(
        ["patient_id", "reported_on", "complaint", "side"], kind="stable")
    if len(pain):
        text = ("progressive " + pain["complaint"].str.replace("_", " ") + " reported " + _fmt(pain["reported_on"])
                + ", still weight-bearing, with an unresolved episode")
        ev = join_by(pain["patient_id"], text)
        parts.append(per_patient_flags(ev, code="weight_bearing_despite_pain", severity="urgent",
                                       title="Weight-bearing continues despite progressive hip pain",
                                       action="Restrict weight-bearing now and use assistive devices; image to exclude a "
                                              "fracture",
                                       sources="5, 6"))
    labels = join_by(active["patient_id"], _label(active))
    ids = labels.index.to_series()
    parts.append(make_flags(ids, code="conservative_management", severity="info",
                            title="Active episode: conservative management",
                            evidence=("active: " + labels).to_numpy(),
                            action="Restrict weight-bearing, assistive devices, analgesics; core decompression is not "
                                   "superior to medical therapy",
                            sources="4"))
    parts.append(make_flags(ids, code="recovery_options", severity="info",
                            title="Active episode: what shortens recovery",
                            evidence=("active: " + labels).to_numpy(),
                            action="Consider bisphosphonates, calcitonin or teriparatide, reported to shorten recovery",
                            sources="4"))
    frac = active.loc[active["fracture"].fillna(False).astype(bool)]
    if len(frac):
        ev = join_by(frac["patient_id"], "fracture with " + _label(frac))
        parts.append(per_patient_flags(ev, code="fracture_surgical_referral", severity="warn",
                                       title="Fracture: surgical referral",
                                       action="Refer for surgery (total hip arthroplasty or internal fixation) if not done",
                                       sources="5, 6"))
    return _concat(parts)


def prevention_flags(cohort: Cohort, *, config: Config) -> pd.DataFrame:
    """prevention_gap (info), one per item, from each patient's latest assessment [2, 3]."""
    a = cohort.assessments
    if not len(a):
        return _empty()
    latest = a.loc[a["assessed_on"] == a.groupby("patient_id")["assessed_on"].transform("max")]
    pv = config.prevention
    restricted = cohort.episodes.loc[cohort.episodes["resolved_on"].isna(), "patient_id"]
    checks = [
        (latest["calcium_mg_day"] < pv.calcium_mg_day, "calcium {:.0f} mg/day (target 1,000-1,200)", "calcium_mg_day",
         "Calcium 1,000-1,200 mg daily through diet or supplements"),
        (latest["vitamin_d_iu_day"] < pv.vitamin_d_iu_day, "vitamin D intake {:.0f} IU/day (target 600-800)",
         "vitamin_d_iu_day", "Vitamin D 600-800 IU daily"),
        (latest["serum_25ohd_ng_ml"] < pv.serum_25ohd_ng_ml, "serum 25(OH)D {:.0f} ng/mL (target >= 20)",
         "serum_25ohd_ng_ml", "Vitamin D to reach serum 25(OH)D >= 20 ng/mL"),
        ((latest["exercise_min_day"] < pv.exercise_min_day) & ~latest["patient_id"].isin(restricted),
         "weight-bearing exercise {:.0f} min/day (target >= 30 once weight-bearing is permitted)", "exercise_min_day",
         "Weight-bearing and resistance exercise at least 30 minutes daily"),
        (latest["smoker"].fillna(False).astype(bool), "tobacco use", None, "Stop tobacco use"),
        (latest["alcohol_drinks_day"] > pv.alcohol_drinks_day, "alcohol {:.0f} drinks/day (limit 1-2)",
         "alcohol_drinks_day", "Limit alcohol to 1-2 drinks per day"),
    ]
    parts = []
    for mask, template, column, action in checks:
        rows = latest.loc[mask.fillna(False).astype(bool)]
        if not len(rows):
            continue
        values = rows[column].map(template.format) if column else pd.Series(template, index=rows.index)
        ev = "assessment " + _fmt(rows["assessed_on"]) + ": " + values
        parts.append(make_flags(rows["patient_id"], code="prevention_gap", severity="info",
                                title="Bone health measure below target", evidence=ev.to_numpy(),
                                action=action, sources="2, 3"))
    return _concat(parts)
