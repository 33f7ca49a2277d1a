"""PROTOCOL.md §5 (version 2): pregnancy-associated TOH [5, 6].

The third trimester runs from 13 weeks before the expected delivery to the delivery; the
postpartum window from the actual delivery, even one before the third trimester would have
begun (a delivery at 24 weeks). Pure functions of the cohort (already cut to `as_of`).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from monitor.rules.cohort import Cohort
from monitor.config import Config
from monitor.rules.dates import add_months, fmt_dates
from monitor.rules.flag_frames import FLAG_COLUMNS, join_by, lookup, per_patient_flags
from monitor.rules.pregnancy import pregnancy_state
from monitor.rules.treatment import recognise

HIP_PAIN = ("hip_pain", "groin_pain", "low_back_pain_to_groin")


def _empty() -> pd.DataFrame:
    return pd.DataFrame(columns=FLAG_COLUMNS)


def _label(ep: pd.DataFrame) -> pd.Series:
    return ep["side"] + " " + ep["joint"] + " (onset " + fmt_dates(ep["onset_date"]) + ")"


def has_fracture(episodes: pd.DataFrame) -> pd.Series:
    """A fracture is recorded with the episode (a `fracture_on` date implies one)."""
    return episodes["fracture"].fillna(False).astype(bool) | episodes["fracture_on"].notna()


def hip_pain_windows(cohort: Cohort, *, config: Config) -> pd.DataFrame:
    """Each hip/groin pain report that falls in a third trimester or postpartum window, with the
    pregnancy it falls in: patient_id, reported_on, complaint, side, delivery, delivered_on, pp_end, phase."""
    th = config.thresholds
    preg = cohort.pregnancies
    sym = cohort.symptoms.loc[cohort.symptoms["complaint"].isin(HIP_PAIN)]
    if not len(preg) or not len(sym):
        return pd.DataFrame(columns=["patient_id", "reported_on", "complaint", "side", "delivery", "delivered_on",
                                     "pp_end", "phase"])
    p = preg.assign(
        delivery=preg["delivered_on"].fillna(preg["expected_delivery"]),
        tri_start=preg["expected_delivery"].fillna(preg["delivered_on"]) - pd.Timedelta(weeks=th.third_trimester_weeks),
        preg_end=preg["delivered_on"].fillna(preg["expected_delivery"] + pd.Timedelta(days=th.undelivered_days)),
    )
    p["pp_end"] = add_months(p["delivery"], th.postpartum_months)
    hits = sym.merge(p, on="patient_id").sort_values(
        ["patient_id", "reported_on", "complaint", "side", "delivery"], kind="stable")
    third = (hits["reported_on"] >= hits["tri_start"]) & (hits["reported_on"] <= hits["preg_end"])
    post = (hits["delivered_on"].notna() & (hits["reported_on"] >= hits["delivered_on"])
            & (hits["reported_on"] <= hits["pp_end"]))
    hits = hits.assign(phase=np.where(post & ((hits["reported_on"] > hits["delivered_on"]) | ~third),
                                      "postpartum", "third trimester"))
    return hits.loc[third | post].drop_duplicates(["patient_id", "reported_on", "complaint", "side"])


def pregnancy_flags(cohort: Cohort, *, as_of: date, config: Config, state: pd.DataFrame | None = None) -> pd.DataFrame:
    """pregnancy_hip_pain_mri and pregnancy_toh_fracture_risk (urgent), post_fracture_treatment (info).
    `state`: the cohort's `pregnancy_state` if already known."""
    as_of_ts = pd.Timestamp(as_of)
    parts = []
    hits = hip_pain_windows(cohort, config=config)
    # Urgent while it can still prevent a fracture: up to the end of the postpartum window.
    hits = hits.loc[as_of_ts <= hits["pp_end"]]
    if len(hits):
        last_mri = cohort.mri.loc[cohort.mri["joint"] == "hip"].groupby("patient_id")["study_date"].max()
        mri_after = lookup(hits["patient_id"], last_mri)
        hits = hits.loc[mri_after.isna() | (mri_after < hits["reported_on"])]
    if len(hits):
        text = (hits["complaint"].str.replace("_", " ") + " reported " + fmt_dates(hits["reported_on"]) + " ("
                + hits["phase"] + ", delivery " + fmt_dates(hits["delivery"])
                + np.where(hits["delivered_on"].isna(), " expected", "") + "); no hip MRI since")
        ev = join_by(hits["patient_id"], text)
        parts.append(per_patient_flags(ev, code="pregnancy_hip_pain_mri", severity="urgent",
                                       title="Hip or groin pain in late pregnancy or postpartum without MRI",
                                       action="Obtain MRI (without IV contrast) promptly to diagnose TOH early and prevent "
                                              "a femoral neck fracture; do not dismiss as pregnancy discomfort",
                                       sources="6"))
    ep = cohort.episodes.sort_values(["patient_id", "onset_date", "joint", "side"], kind="stable")
    preg_ep = ep.loc[ep["pregnancy_associated"].fillna(False).astype(bool)]
    fractured = has_fracture(preg_ep)
    active = preg_ep.loc[preg_ep["resolved_on"].isna() & ~fractured]
    if len(active):
        ev = join_by(active["patient_id"], "unresolved pregnancy-associated " + _label(active) + ", no fracture recorded")
        parts.append(per_patient_flags(ev, code="pregnancy_toh_fracture_risk", severity="urgent",
                                       title="Pregnancy-associated TOH: highest risk of displaced femoral neck fracture",
                                       action="Restrict weight-bearing and use assistive devices until symptoms improve; "
                                              "urgent imaging for any increase in pain",
                                       sources="5, 6"))
    parts.append(_post_fracture(cohort, preg_ep.loc[fractured], as_of=as_of, config=config, state=state))
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else _empty()


def _post_fracture(cohort: Cohort, fractured: pd.DataFrame, *, as_of: date, config: Config,
                  state: pd.DataFrame | None = None) -> pd.DataFrame:
    """After a pregnancy-associated fracture, once delivered and with no bone drug since: the
    treatment used in reported cases [5] — named only once she is not breastfeeding."""
    if not len(fractured):
        return _empty()
    th = config.thresholds
    deliveries = cohort.pregnancies.loc[cohort.pregnancies["delivered_on"].notna(), ["patient_id", "delivered_on"]]
    pairs = fractured.merge(deliveries, on="patient_id")
    # The delivery of this pregnancy: within a pregnancy's length before or after the onset.
    span = pd.Timedelta(weeks=th.pregnancy_weeks)
    pairs = pairs.loc[(pairs["delivered_on"] >= pairs["onset_date"] - span) & (pairs["delivered_on"] <= pairs["onset_date"] + span)]
    tr = cohort.treatments
    bone = tr.loc[recognise(tr["drug"], config.treatment).notna()]
    last_bone = bone.groupby("patient_id")["started_on"].max()
    since = lookup(pairs["patient_id"], last_bone)
    pairs = pairs.loc[since.isna() | (since < pairs["onset_date"])]
    state = pregnancy_state(cohort, as_of=as_of, settings=th) if state is None else state
    pairs = pairs.loc[~pairs["patient_id"].isin(state.index[state["is_pregnant"]])]
    if not len(pairs):
        return _empty()
    pairs = pairs.drop_duplicates(["patient_id", "onset_date", "joint", "side"])
    ev = join_by(pairs["patient_id"], "fracture with pregnancy-associated " + _label(pairs) + ", delivered "
                 + fmt_dates(pairs["delivered_on"]) + "; no bone treatment recorded since")
    feeding = ev.index.isin(state.index[state["is_breastfeeding"]])
    parts = []
    if (~feeding).any():
        parts.append(per_patient_flags(
            ev.loc[~feeding] + "; not breastfeeding now", code="post_fracture_treatment",
            severity="info", title="After a pregnancy-associated fracture: treatment used in reported cases",
            action="Once delivered and not breastfeeding: alendronic acid 70 mg weekly plus vitamin D for 3 months has "
                   "been used; decide with a specialist",
            sources="5, drug labelling"))
    if feeding.any():
        parts.append(per_patient_flags(
            ev.loc[feeding] + "; breastfeeding now", code="post_fracture_treatment",
            severity="info", title="After a pregnancy-associated fracture: treatment once not breastfeeding",
            action="No bone drug while breastfeeding: once not breastfeeding, review post-fracture drug treatment with "
                   "a specialist; vitamin D and calcium meanwhile",
            sources="5, drug labelling"))
    return pd.concat(parts, ignore_index=True)
