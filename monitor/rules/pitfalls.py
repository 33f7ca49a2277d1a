"""PROTOCOL.md §3 (new symptoms), §4 (cards) and §7 (pitfalls), version 2 [2, 4, 5, 6].

Pure functions of the cohort (already cut to `as_of`). A pain report belongs to a joint and side:
groin pain counts as hip; a report without a side is matched to either side.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from monitor.rules.cohort import Cohort
from monitor.config import Config
from monitor.rules.dates import fmt_dates
from monitor.rules.flag_frames import FLAG_COLUMNS, join_by, make_flags, per_patient_flags
from monitor.rules.pregnancy import deferred_ids, pregnancy_state
from monitor.rules.pregnancy_flags import has_fracture, hip_pain_windows
from monitor.rules.treatment import bone_treatment_text, bone_treatments_on

COMPLAINT_JOINT = {"hip_pain": "hip", "groin_pain": "hip", "knee_pain": "knee", "ankle_pain": "ankle"}


def _empty() -> pd.DataFrame:
    return pd.DataFrame(columns=FLAG_COLUMNS)


def _label(ep: pd.DataFrame) -> pd.Series:
    return ep["side"] + " " + ep["joint"] + " (onset " + fmt_dates(ep["onset_date"]) + ")"


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else _empty()


def joint_reports(cohort: Cohort) -> pd.DataFrame:
    """Pain reports at a joint (hip, knee, ankle), with a `row` id, sorted by patient and date."""
    sym = cohort.symptoms
    rep = sym.loc[sym["complaint"].isin(list(COMPLAINT_JOINT))].sort_values(
        ["patient_id", "reported_on", "complaint", "side"], kind="stable").reset_index(drop=True)
    return rep.assign(joint=rep["complaint"].map(COMPLAINT_JOINT).astype("str"), row=np.arange(len(rep)))


def _at(pairs: pd.DataFrame, suffix: str) -> pd.Series:
    """The pair's report and record are at the same joint and side (a blank side matches either)."""
    return ((pairs["joint"] == pairs[f"joint{suffix}"])
            & ((pairs["side"] == pairs[f"side{suffix}"]) | (pairs["side"] == "") | (pairs[f"side{suffix}"] == "")))


def weight_bearing_flags(cohort: Cohort) -> pd.DataFrame:
    """`weight_bearing_despite_pain` (urgent): progressive pain at the joint and side of an unresolved
    episode while still weight-bearing [5, 6]; cleared by a later report there that is not
    weight-bearing, or by the episode's resolution."""
    rep = joint_reports(cohort)
    active = cohort.episodes.loc[cohort.episodes["resolved_on"].isna()]
    if not len(rep) or not len(active):
        return _empty()
    bad = rep.loc[rep["progressive"].fillna(False).astype(bool) & rep["weight_bearing"].fillna(False).astype(bool)]
    pairs = bad.merge(active[["patient_id", "joint", "side", "onset_date"]], on="patient_id", suffixes=("", "_ep"))
    pairs = pairs.loc[_at(pairs, "_ep") & (pairs["reported_on"] >= pairs["onset_date"])]
    if not len(pairs):
        return _empty()
    relief = rep.loc[rep["weight_bearing"].eq(False).fillna(False)]
    later = pairs[["row", "patient_id", "joint", "side", "reported_on"]].drop_duplicates("row").merge(
        relief[["patient_id", "joint", "side", "reported_on"]], on="patient_id", suffixes=("", "_r"))
    later = later.loc[_at(later, "_r") & (later["reported_on_r"] > later["reported_on"])]
    pairs = pairs.loc[~pairs["row"].isin(later["row"])].drop_duplicates("row")
    if not len(pairs):
        return _empty()
    text = ("progressive " + pairs["complaint"].str.replace("_", " ") + " (" + pairs["side_ep"] + " " + pairs["joint"]
            + ") reported " + fmt_dates(pairs["reported_on"]) + ", still weight-bearing, with an unresolved episode there")
    return per_patient_flags(join_by(pairs["patient_id"], text), code="weight_bearing_despite_pain", severity="urgent",
                             title="Weight-bearing continues despite progressive pain",
                             action="Restrict weight-bearing now and use assistive devices; image to exclude a fracture",
                             sources="5, 6")


def new_joint_pain_flags(cohort: Cohort, *, config: Config) -> pd.DataFrame:
    """`new_joint_pain_after_toh` (warn): hip, groin, knee or ankle pain after the first episode's
    onset, at a joint and side with no unresolved episode and no MRI there since the report:
    possible recurrence or migration [2, 4]. Not for a report that raises pregnancy_hip_pain_mri."""
    rep = joint_reports(cohort)
    ep = cohort.episodes
    if not len(rep) or not len(ep):
        return _empty()
    first = ep.groupby("patient_id")["onset_date"].min()
    rep = rep.loc[rep["reported_on"] > rep["patient_id"].map(first)]
    if not len(rep):
        return _empty()
    # The episode itself: an episode there unresolved on the report's day, or one diagnosed after it.
    pairs = rep[["row", "patient_id", "joint", "side", "reported_on"]].merge(
        ep[["patient_id", "joint", "side", "onset_date", "resolved_on"]], on="patient_id", suffixes=("", "_ep"))
    pairs = pairs.loc[_at(pairs, "_ep") & ((pairs["onset_date"] > pairs["reported_on"]) | pairs["resolved_on"].isna()
                                            | (pairs["resolved_on"] >= pairs["reported_on"]))]
    answered = set(pairs["row"])
    mri = cohort.mri
    pairs = rep[["row", "patient_id", "joint", "side", "reported_on"]].merge(
        mri[["patient_id", "joint", "side", "study_date"]], on="patient_id", suffixes=("", "_mri"))
    answered |= set(pairs.loc[_at(pairs, "_mri") & (pairs["study_date"] >= pairs["reported_on"]), "row"])
    preg = hip_pain_windows(cohort, config=config)
    if len(preg):
        keys = preg[["patient_id", "reported_on", "complaint", "side"]].merge(rep, on=["patient_id", "reported_on",
                                                                               "complaint", "side"])
        answered |= set(keys["row"])
    hit = rep.loc[~rep["row"].isin(list(answered))]
    if not len(hit):
        return _empty()
    where = np.where(hit["side"] == "", "side not recorded", hit["side"] + " " + hit["joint"])
    text = (hit["complaint"].str.replace("_", " ") + " (" + where + ") reported " + fmt_dates(hit["reported_on"])
            + "; no unresolved episode there and no MRI of it since")
    return per_patient_flags(join_by(hit["patient_id"], text), code="new_joint_pain_after_toh", severity="warn",
                             title="New joint pain after TOH",
                             action="Possible recurrence or migration: examine; MRI without IV contrast is the method of "
                                    "choice for detecting recurrence",
                             sources="2, 4")


def pitfall_flags(cohort: Cohort, *, as_of: date, config: Config, state: pd.DataFrame | None = None) -> pd.DataFrame:
    """weight_bearing_despite_pain, fracture_surgical_referral, and the cards of an active episode.
    `state`: the cohort's `pregnancy_state` if already known."""
    ep = cohort.episodes.sort_values(["patient_id", "onset_date", "joint", "side"], kind="stable")
    active = ep.loc[ep["resolved_on"].isna()]
    parts = [weight_bearing_flags(cohort)]
    if not len(active):
        return _concat(parts)
    labels = join_by(active["patient_id"], _label(active))
    ids = labels.index.to_series()
    parts.append(make_flags(ids, code="conservative_management", severity="info",
                            title="Active episode: conservative management",
                            evidence=("active: " + labels).to_numpy(),
                            action="Restrict weight-bearing, assistive devices, analgesics; core decompression is not "
                                   "superior to medical therapy",
                            sources="4"))
    parts.append(_recovery_options(cohort, labels, as_of=as_of, config=config, state=state))
    frac = active.loc[has_fracture(active)]
    if len(frac):
        when = np.where(frac["fracture_on"].notna(), " on " + fmt_dates(frac["fracture_on"]), "")
        text = "fracture" + when + " with " + _label(frac) + ", unresolved"
        hip = frac["joint"] == "hip"
        for is_hip, action in ((True, "Refer for surgery now if not done: total hip arthroplasty or internal fixation "
                                      "may be necessary"),
                               (False, "Orthopaedic referral now if not done, for the fractured joint")):
            rows = frac.loc[hip == is_hip]
            if len(rows):
                parts.append(per_patient_flags(join_by(rows["patient_id"], text.loc[rows.index]),
                                               code="fracture_surgical_referral", severity="urgent",
                                               title="Fracture: surgical referral", action=action,
                                               sources="5, 6" if is_hip else "5"))
    return _concat(parts)


def _recovery_options(cohort: Cohort, labels: pd.Series, *, as_of: date, config: Config,
                      state: pd.DataFrame | None = None) -> pd.DataFrame:
    """`recovery_options` (info) [4]: what shortens recovery — never a drug to start while pregnant
    or breastfeeding (drug labelling), and the current drug when already on bone treatment."""
    state = pregnancy_state(cohort, as_of=as_of, settings=config.thresholds) if state is None else state
    deferred = labels.index.isin(deferred_ids(state))
    current = bone_treatment_text(bone_treatments_on(cohort, as_of=as_of, settings=config.treatment))
    treated = labels.index.isin(current.index) & ~deferred
    plain = ~deferred & ~treated
    parts = []
    title = "Active episode: what shortens recovery"
    if plain.any():
        ev = "active: " + labels.loc[plain]
        parts.append(per_patient_flags(ev, code="recovery_options", severity="info", title=title,
                                       action="Consider bisphosphonates, calcitonin or teriparatide, reported to shorten "
                                              "recovery; check for contraindications",
                                       sources="4"))
    if deferred.any():
        which = np.where(state.reindex(labels.index[deferred])["is_pregnant"].to_numpy(), "pregnant", "breastfeeding")
        ev = "active: " + labels.loc[deferred] + "; " + which + " now"
        parts.append(per_patient_flags(ev, code="recovery_options", severity="info", title=title,
                                       action="No drug to shorten recovery now: drug options are for after pregnancy and "
                                              "breastfeeding, with a specialist; conservative management meanwhile",
                                       sources="4, drug labelling"))
    if treated.any():
        ev = "active: " + labels.loc[treated] + "; on bone treatment: " + current.reindex(labels.index[treated]).to_numpy()
        parts.append(per_patient_flags(ev, code="recovery_options", severity="info", title=title,
                                       action="Already on bone treatment (see evidence): no second bone drug; "
                                              "conservative management",
                                       sources="4"))
    return _concat(parts)
