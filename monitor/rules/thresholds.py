"""PROTOCOL.md §4 (version 2): treatment thresholds, and who they never apply to.

T-score thresholds (`persistent_osteopenia` [5], `therapy_indicated` [2]) are never raised for a
young adult (ISCD: T-score categories do not apply; Z-scores are preferred), while pregnant or
breastfeeding (drug labelling: bone drugs are avoided), or while on bone treatment. A young
adult with a Z-score <= -2.0 gets `low_for_age`; pregnancy or breastfeeding turns a would-be
treatment flag into `low_bmd_defer_treatment`. Pure functions of the cohort and `as_of`.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from monitor.rules.cohort import Cohort
from monitor.config import Config, ThresholdSettings
from monitor.rules.flag_frames import FLAG_COLUMNS, join_by, lookup, make_flags, signed
from monitor.rules.pregnancy import deferred_ids, pregnancy_state
from monitor.rules.schedule import HIP_SITES, risk_factor_table
from monitor.rules.treatment import bone_treatments_on

EPS = 1e-9  # float noise only: T and Z are compared as recorded


def age_years(birth: pd.Series, on: pd.Series) -> pd.Series:
    """Whole years of age on each day (a birthday counts on the day itself)."""
    years = on.dt.year - birth.dt.year
    before_birthday = (on.dt.month < birth.dt.month) | ((on.dt.month == birth.dt.month) & (on.dt.day < birth.dt.day))
    return years - before_birthday.astype(int)


def is_young_adult(sex: pd.Series, postmenopausal: pd.Series, age: pd.Series, *,
                   settings: ThresholdSettings) -> pd.Series:
    """A man under 50, a woman under 50 unless recorded postmenopausal, a woman 50 or over recorded
    premenopausal, sex X under 50 (ISCD official positions; the age is configurable)."""
    under = age < settings.z_score_age
    post = postmenopausal.astype("boolean")
    female = sex == "F"
    woman = (post == False).fillna(False) | (under & ~post.fillna(False))  # noqa: E712 (nullable)
    return pd.Series(np.where(female, woman, under), index=age.index).astype(bool)


def latest_scores(cohort: Cohort, config: Config) -> pd.DataFrame:
    """Per patient: the latest scan's date, lowest hip T, lowest hip/spine Z, age then, young adult."""
    scans = cohort.scans
    cols = ["patient_id", "scan_date", "min_hip_t", "min_z", "age", "is_young"]
    if not len(scans):
        return pd.DataFrame(columns=cols)
    scans = scans[["patient_id", "scan_date", "site", "t_score", "z_score"]]  # not the other texts
    last = scans.loc[scans["scan_date"] == scans.groupby("patient_id")["scan_date"].transform("max")]
    hips = last.loc[last["site"].isin(HIP_SITES)]
    out = pd.DataFrame({
        "scan_date": last.groupby("patient_id")["scan_date"].first(),
        "min_hip_t": hips.groupby("patient_id")["t_score"].min(),
        "min_z": last.groupby("patient_id")["z_score"].min(),
    })
    p = cohort.patients.set_index("patient_id").reindex(out.index)
    out["age"] = age_years(p["birth_date"], out["scan_date"])
    out["is_young"] = is_young_adult(p["sex"], p["postmenopausal"], out["age"], settings=config.thresholds)
    return out.reset_index()[cols]


def _empty() -> pd.DataFrame:
    return pd.DataFrame(columns=FLAG_COLUMNS)


def threshold_flags(cohort: Cohort, *, as_of: date, config: Config, risks: pd.DataFrame | None = None,
                    state: pd.DataFrame | None = None) -> pd.DataFrame:
    """persistent_osteopenia (warn), therapy_indicated (urgent), low_for_age (warn),
    low_bmd_defer_treatment (warn). `state`: the cohort's `pregnancy_state` if already known."""
    scores = latest_scores(cohort, config)
    if not len(scores):
        return _empty()
    th = config.thresholds
    state = pregnancy_state(cohort, as_of=as_of, settings=th) if state is None else state
    deferred = scores["patient_id"].isin(deferred_ids(state))
    treated = scores["patient_id"].isin(bone_treatments_on(cohort, as_of=as_of, settings=config.treatment)["patient_id"])
    young = scores["is_young"]
    day = scores["scan_date"].dt.strftime("%Y-%m-%d")
    def t_txt_of(rows):
        return "latest scan " + day.loc[rows.index] + ": lowest hip T-score " + rows["min_hip_t"].map(signed).astype("str")

    def z_txt_of(rows):
        return ("latest scan " + day.loc[rows.index] + ": lowest hip or spine Z-score "
                + rows["min_z"].map(signed).astype("str") + f" (<= {th.low_for_age_z:+g}); aged "
                + rows["age"].astype(str) + " then (young adult: T-score categories do not apply, ISCD)")

    table = risk_factor_table(cohort) if risks is None else risks
    table = table.drop_duplicates(["patient_id", "code"]).sort_values(["patient_id", "code"])
    risk_codes = join_by(table["patient_id"], table["code"], ";")
    has_risk = scores["patient_id"].map(risk_codes).notna()
    therapy = ~young & (scores["min_hip_t"] < th.therapy_t - EPS) & has_risk

    hip_eps = cohort.episodes.loc[cohort.episodes["joint"] == "hip"]
    all_resolved = hip_eps["resolved_on"].notna().groupby(hip_eps["patient_id"]).all()
    resolved_on = hip_eps.groupby("patient_id")["resolved_on"].max()
    res_on = lookup(scores["patient_id"], resolved_on)
    osteo = (~young & scores["patient_id"].map(all_resolved).astype("boolean").fillna(False).astype(bool)
             & (scores["scan_date"] > res_on) & (scores["min_hip_t"] <= th.persistent_osteopenia_t + EPS))
    low_z = young & (scores["min_z"] <= th.low_for_age_z + EPS)

    parts = []
    hit = scores.loc[therapy & ~deferred & ~treated]
    if len(hit):
        ev = (t_txt_of(hit) + f" (< {th.therapy_t:+g}); risk factors: " + hit["patient_id"].map(risk_codes))
        parts.append(make_flags(hit["patient_id"], code="therapy_indicated", severity="urgent",
                                title="Hip T-score below the therapy threshold with additional risk factors",
                                evidence=ev.to_numpy(),
                                action="Therapeutic intervention should be strongly considered (e.g. a bisphosphonate); "
                                       "check for contraindications first",
                                sources="2"))
    hit = scores.loc[osteo & ~deferred & ~treated]
    if len(hit):
        ev = ("hip episodes resolved by " + res_on.loc[hit.index].dt.strftime("%Y-%m-%d") + "; "
              + t_txt_of(hit) + f" (<= {th.persistent_osteopenia_t:+g}); no current bone treatment")
        parts.append(make_flags(hit["patient_id"], code="persistent_osteopenia", severity="warn",
                                title="Osteopenia persists after TOH resolved",
                                evidence=ev.to_numpy(),
                                action="Consider bisphosphonate therapy (alendronate 70 mg weekly)", sources="5"))
    hit = scores.loc[low_z]
    if len(hit):
        ev = z_txt_of(hit)
        parts.append(make_flags(hit["patient_id"], code="low_for_age", severity="warn",
                                title="Below the expected range for age",
                                evidence=ev.to_numpy(),
                                action="Specialist review; look for secondary causes of low bone mass. Judge on Z-scores "
                                       "at this age",
                                sources="ISCD"))
    defer = deferred & (therapy | osteo | low_z)
    hit = scores.loc[defer]
    if len(hit):
        why = np.where(state.reindex(hit["patient_id"])["is_pregnant"].to_numpy(), "pregnant", "breastfeeding")
        t_limit = np.where(therapy.loc[hit.index], f" (< {th.therapy_t:+g}; risk factors: " + hit["patient_id"].map(risk_codes).astype("object").fillna("") + ")",
                           f" (<= {th.persistent_osteopenia_t:+g} after resolution)")
        score = np.where(hit["is_young"], z_txt_of(hit), t_txt_of(hit) + t_limit)
        ev = pd.Series(score, index=hit.index) + "; " + why + " now"
        parts.append(make_flags(hit["patient_id"], code="low_bmd_defer_treatment", severity="warn",
                                title="Low bone density during pregnancy or breastfeeding",
                                evidence=ev.to_numpy(),
                                action="No bone drug now: decide on drug treatment after pregnancy and breastfeeding, "
                                       "with a specialist; calcium, vitamin D and conservative measures meanwhile",
                                sources="ISCD, drug labelling"))
    return pd.concat(parts, ignore_index=True) if parts else _empty()
