"""PROTOCOL.md §2: flags from the BMD trend (the thresholds of §4 live in monitor.rules.thresholds).

Pure functions of the cohort (already cut to `as_of`), its trend table and the settings.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from monitor.rules.cohort import Cohort
from monitor.config import ThresholdSettings
from monitor.rules.flag_frames import (
    FLAG_COLUMNS,
    join_by,
    make_flags,
    per_patient_flags,
)
from monitor.rules.pregnancy import breastfeeding_on, pregnancy_spans
from monitor.rules.schedule import HIP_SITES
from monitor.rules.trends import SITE_ORDER, describe_changes, lsc_note

def _empty() -> pd.DataFrame:
    return pd.DataFrame(columns=FLAG_COLUMNS)


def _join_evidence(rows: pd.DataFrame, key, detail: bool = True) -> pd.Series:
    """One evidence text per key from the rows' change descriptions and LSC notes.

    Without `detail` only the keys are wanted (a caller that shows codes, not evidence)."""
    if not len(rows):
        return pd.Series(dtype="str")
    if not detail:
        keys = np.unique(np.asarray(key))
        return pd.Series([""] * len(keys), index=keys, dtype="str")
    rows = rows.sort_values(["side", "site"], key=lambda s: s.map(SITE_ORDER) if s.name == "site" else s,
                            kind="stable")
    key = key.loc[rows.index] if isinstance(key, pd.Series) else key
    tags = pd.Series(np.where(rows["significant_prev"], "prev", "base"), index=rows.index)
    notes = {(l, m): lsc_note(l, m) for l, m in set(zip(rows["lsc_g_cm2"], rows["lsc_measured"]))}
    note = pd.Series([notes[(l, m)] for l, m in zip(rows["lsc_g_cm2"], rows["lsc_measured"])], index=rows.index)
    parts = describe_changes(rows, tags) + " (" + note + ")"
    return join_by(key, parts)


def hip_roles(cohort: Cohort) -> pd.DataFrame:
    """Per patient and hip side: whether it is affected (a hip episode there), and resolved."""
    ep = cohort.episodes.loc[cohort.episodes["joint"] == "hip"]
    if not len(ep):
        return pd.DataFrame(columns=["patient_id", "side", "all_resolved", "resolved_on"])
    keys = [ep["patient_id"], ep["side"]]
    return pd.DataFrame({
        "all_resolved": ep["resolved_on"].notna().groupby(keys).all(),
        "resolved_on": ep["resolved_on"].groupby(keys).max(),
    }).rename_axis(["patient_id", "side"]).reset_index()


LACTATION_NOTE = ("; note: measured while breastfeeding: bone loss during breastfeeding is usually physiological "
                  "and recovers after weaning; recheck after weaning")


def trend_flags(cohort: Cohort, trend: pd.DataFrame, *, evidence: bool = True,
                settings: ThresholdSettings | None = None, spans: pd.DataFrame | None = None) -> pd.DataFrame:
    """contralateral_decline, affected_decline_after_resolution, bilateral_decline, affected_recovery.

    Version 2: a loss at a hip without an episode is always `contralateral_decline` (a sign of
    migration is never relabelled); `bilateral_decline` is raised beside the one-sided flags, and
    only while no hip episode is active; `affected_recovery` only when the latest change at that
    hip is a significant gain. A loss measured while breastfeeding carries the lactation note."""
    latest = trend.loc[trend["is_latest"] & trend["site"].isin(HIP_SITES)]
    if not len(latest):
        return _empty()
    settings = settings or ThresholdSettings()
    roles = hip_roles(cohort)
    latest = latest.merge(roles, on=["patient_id", "side"], how="left")
    latest["affected"] = latest["all_resolved"].notna()
    decline = ((latest["significant_prev"] & (latest["delta_prev"] < 0))
               | (latest["significant_base"] & (latest["delta_base"] < 0)))
    declined = latest.loc[decline]
    spans = pregnancy_spans(cohort.pregnancies, settings=settings) if spans is None else spans
    lactating = breastfeeding_on(spans, latest["patient_id"], latest["scan_date"])
    lactating_ids = set(latest.loc[lactating & decline, "patient_id"])

    def with_note(ev: pd.Series) -> pd.Series:
        return ev + np.where(ev.index.isin(list(lactating_ids)), LACTATION_NOTE, "")

    hip_eps = cohort.episodes.loc[cohort.episodes["joint"] == "hip"]
    active_hip = set(hip_eps.loc[hip_eps["resolved_on"].isna(), "patient_id"])
    sides = declined.groupby("patient_id")["side"].nunique()
    bilateral_ids = sides.index[(sides >= 2) & ~sides.index.isin(list(active_hip))]
    parts = []
    if len(bilateral_ids):
        rows = declined.loc[declined["patient_id"].isin(bilateral_ids)]
        ev = with_note(_join_evidence(rows, rows["patient_id"], evidence))
        parts.append(per_patient_flags(ev, code="bilateral_decline", severity="warn",
                                       title="Significant BMD loss at both hips (generalized loss)",
                                       action="Look for causes of generalized bone loss (glucocorticoids, hypogonadism, "
                                              "malabsorption); review treatment thresholds",
                                       sources="1, 2"))
    contra = declined.loc[~declined["affected"]]
    if len(contra):
        ev = with_note(_join_evidence(contra, contra["patient_id"], evidence))
        parts.append(per_patient_flags(ev, code="contralateral_decline", severity="warn",
                                       title="Significant BMD loss at the hip without a TOH episode",
                                       action="Possible recurrence or migration to the other hip: ask about hip or groin pain; "
                                              "MRI without IV contrast is the method of choice to look",
                                       sources="1, 2, 4"))
    after = declined.loc[declined["affected"] & declined["all_resolved"].astype("boolean").fillna(False).astype(bool)
                         & (declined["scan_date"] > declined["resolved_on"])]
    if len(after):
        ev = with_note(_join_evidence(after, after["patient_id"], evidence))
        parts.append(per_patient_flags(ev, code="affected_decline_after_resolution", severity="warn",
                                       title="Significant BMD loss at the affected hip after resolution",
                                       action="Possible recurrence at the same hip: ask about pain; MRI without IV contrast "
                                              "if symptomatic",
                                       sources="1, 2, 4"))
    gain = latest["significant_prev"] & (latest["delta_prev"] > 0) & latest["affected"]
    # (patient, side) pairs as index keys: no Python tuple per row.
    lost = pd.MultiIndex.from_arrays([declined["patient_id"], declined["side"]])
    is_lost = pd.MultiIndex.from_arrays([latest["patient_id"], latest["side"]]).isin(lost)
    rec = latest.loc[gain & ~is_lost]
    if len(rec):
        ev = _join_evidence(rec, rec["patient_id"], evidence)
        parts.append(per_patient_flags(ev, code="affected_recovery", severity="info",
                                       title="Significant BMD gain at the affected hip (the expected course)",
                                       action="None needed: TOH resolves spontaneously; continue surveillance",
                                       sources="1"))
    return pd.concat(parts, ignore_index=True) if parts else _empty()


def scanner_flags(trend: pd.DataFrame) -> pd.DataFrame:
    """scanner_changed (info): BMD from different makes is not compared."""
    per_scan = (trend[["patient_id", "scan_date", "scanner"]].drop_duplicates(["patient_id", "scan_date"])
                .sort_values(["patient_id", "scan_date"]))
    prev = per_scan.groupby("patient_id")["scanner"].shift()
    change = per_scan.loc[prev.notna() & (per_scan["scanner"] != prev)]
    if not len(change):
        return _empty()
    text = (prev.loc[change.index] + " → " + change["scanner"] + " on " + change["scan_date"].dt.strftime("%Y-%m-%d"))
    ev = join_by(change["patient_id"], text)
    return make_flags(ev.index.to_series(), code="scanner_changed", severity="info",
                      title="Scanner make changed: BMD before and after is not comparable",
                      evidence=("scanner " + ev + "; changes are computed within one make only").to_numpy(),
                      action="Prefer the same scanner make for follow-up; treat the first scan on the new make "
                             "as a new baseline", sources="1, 2")
