"""PROTOCOL.md §2 and §4: flags from the BMD trend and the treatment thresholds.

Pure functions of the cohort (already cut to `as_of`), its trend table and the settings.
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
from monitor.rules.schedule import HIP_SITES, risk_factor_table
from monitor.rules.trends import SITE_ORDER, describe_changes, lsc_note

BISPHOSPHONATE_RE = r"(?i)alendron|risedron|ibandron|zoledron|pamidron|etidron|clodron|bisphosphonate|fosamax|actonel|boniva|reclast|aclasta"


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


def trend_flags(cohort: Cohort, trend: pd.DataFrame, *, evidence: bool = True) -> pd.DataFrame:
    """contralateral_decline, affected_decline_after_resolution, bilateral_decline, affected_recovery."""
    latest = trend.loc[trend["is_latest"] & trend["site"].isin(HIP_SITES)]
    if not len(latest):
        return _empty()
    roles = hip_roles(cohort)
    latest = latest.merge(roles, on=["patient_id", "side"], how="left")
    latest["affected"] = latest["all_resolved"].notna()
    decline = ((latest["significant_prev"] & (latest["delta_prev"] < 0))
               | (latest["significant_base"] & (latest["delta_base"] < 0)))
    gain = ((latest["significant_prev"] & (latest["delta_prev"] > 0))
            | (latest["significant_base"] & (latest["delta_base"] > 0)))
    declined = latest.loc[decline]
    sides = declined.groupby("patient_id")["side"].nunique()
    bilateral_ids = sides.index[sides >= 2]  # both hip sides (the only sides a hip site has)
    parts = []
    if len(bilateral_ids):
        rows = declined.loc[declined["patient_id"].isin(bilateral_ids)]
        ev = _join_evidence(rows, rows["patient_id"], evidence)
        parts.append(per_patient_flags(ev, code="bilateral_decline", severity="warn",
                                       title="Significant BMD loss at both hips (generalized loss)",
                                       action="Look for causes of generalized bone loss (glucocorticoids, hypogonadism, "
                                              "malabsorption); review treatment thresholds",
                                       sources="1, 2"))
    one_side = declined.loc[~declined["patient_id"].isin(bilateral_ids)]
    contra = one_side.loc[~one_side["affected"]]
    if len(contra):
        ev = _join_evidence(contra, contra["patient_id"], evidence)
        parts.append(per_patient_flags(ev, code="contralateral_decline", severity="warn",
                                       title="Significant BMD loss at the hip without a TOH episode",
                                       action="Possible recurrence or migration to the other hip: ask about hip or groin pain; "
                                              "MRI without IV contrast is the method of choice to look",
                                       sources="1, 2, 4"))
    after = one_side.loc[one_side["affected"] & one_side["all_resolved"].fillna(False).astype(bool)
                         & (one_side["scan_date"] > one_side["resolved_on"])]
    if len(after):
        ev = _join_evidence(after, after["patient_id"], evidence)
        parts.append(per_patient_flags(ev, code="affected_decline_after_resolution", severity="warn",
                                       title="Significant BMD loss at the affected hip after resolution",
                                       action="Possible recurrence at the same hip: ask about pain; MRI without IV contrast "
                                              "if symptomatic",
                                       sources="1, 2, 4"))
    rec = latest.loc[gain & latest["affected"]]
    if len(rec):
        ev = _join_evidence(rec, rec["patient_id"], evidence)
        parts.append(per_patient_flags(ev, code="affected_recovery", severity="info",
                                       title="Significant BMD gain at the affected hip (the expected course)",
                                       action="None needed: TOH resolves spontaneously; continue surveillance",
                                       sources="1"))
    return pd.concat(parts, ignore_index=True) if parts else _empty()


def scanner_flags(trend: pd.DataFrame) -> pd.DataFrame:
    """scanner_changed (info): BMD from different makes is not compared."""
    per_scan = trend.drop_duplicates(["patient_id", "scan_date"]).sort_values(["patient_id", "scan_date"])
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


def _age_years(birth: pd.Series, on: pd.Series) -> pd.Series:
    years = on.dt.year - birth.dt.year
    before_birthday = (on.dt.month < birth.dt.month) | ((on.dt.month == birth.dt.month) & (on.dt.day < birth.dt.day))
    return years - before_birthday.astype(int)


def latest_scores(cohort: Cohort, config: Config) -> pd.DataFrame:
    """Per patient: the latest scan's lowest hip T, lowest hip/spine Z, and the age caveat."""
    scans = cohort.scans
    if not len(scans):
        return pd.DataFrame(columns=["patient_id", "scan_date", "min_hip_t", "min_z", "age", "prefers_z"])
    last = scans.loc[scans["scan_date"] == scans.groupby("patient_id")["scan_date"].transform("max")]
    hips = last.loc[last["site"].isin(HIP_SITES)]
    out = pd.DataFrame({
        "scan_date": last.groupby("patient_id")["scan_date"].first(),
        "min_hip_t": hips.groupby("patient_id")["t_score"].min(),
        "min_z": last.groupby("patient_id")["z_score"].min(),
    })
    p = cohort.patients.set_index("patient_id").reindex(out.index)
    out["age"] = _age_years(p["birth_date"], out["scan_date"])
    under = out["age"] < config.thresholds.z_score_age
    post = p["postmenopausal"].astype("object") if "postmenopausal" in p else pd.Series(pd.NA, index=p.index)
    female = p["sex"] == "F"
    premenopausal = female & post.map(lambda v: (not v) if isinstance(v, (bool, np.bool_)) else None).fillna(under).astype(bool)
    out["prefers_z"] = (~female & under) | premenopausal
    out["z_group"] = np.where(female, "premenopausal", np.where(p["sex"] == "M", "man under 50", "under 50"))
    return out.reset_index()


def _z_note(rows: pd.DataFrame) -> pd.Series:
    """The ISCD caveat on T-score flags for men under 50 and premenopausal women."""
    z = rows["min_z"].map(lambda v: "not recorded" if pd.isna(v) else f"{v:+.1f}")
    note = ("; note: aged " + rows["age"].astype(str) + ", " + rows["z_group"]
            + ": ISCD prefers Z-scores here (lowest Z " + z + ")")
    return note.where(rows["prefers_z"], "")


def threshold_flags(cohort: Cohort, *, as_of: date, config: Config, risks: pd.DataFrame | None = None) -> pd.DataFrame:
    """persistent_osteopenia (warn), therapy_indicated (urgent), low_for_age (warn)."""
    scores = latest_scores(cohort, config)
    if not len(scores):
        return _empty()
    th = config.thresholds
    parts = []
    scan_txt = "latest scan " + scores["scan_date"].dt.strftime("%Y-%m-%d") + ": lowest hip T-score " + scores["min_hip_t"].map(
        lambda v: f"{v:+.1f}")

    table = risk_factor_table(cohort) if risks is None else risks
    table = table.drop_duplicates(["patient_id", "code"]).sort_values(["patient_id", "code"])
    risks = join_by(table["patient_id"], table["code"], ";")
    has_risk = scores["patient_id"].map(risks).notna()
    therapy = scores.loc[(scores["min_hip_t"] < th.therapy_t) & has_risk]
    if len(therapy):
        ev = (scan_txt.loc[therapy.index] + f" (< {th.therapy_t:+.1f}); risk factors: "
              + therapy["patient_id"].map(risks) + _z_note(therapy))
        parts.append(make_flags(therapy["patient_id"], code="therapy_indicated", severity="urgent",
                                title="Hip T-score below the therapy threshold with additional risk factors",
                                evidence=ev.to_numpy(),
                                action="Therapeutic intervention should be strongly considered (e.g. a bisphosphonate)",
                                sources="2"))

    hip_eps = cohort.episodes.loc[cohort.episodes["joint"] == "hip"]
    if len(hip_eps):
        all_resolved = hip_eps["resolved_on"].notna().groupby(hip_eps["patient_id"]).all()
        resolved_on = hip_eps.groupby("patient_id")["resolved_on"].max()
        tr = cohort.treatments
        current = tr.loc[tr["drug"].str.contains(BISPHOSPHONATE_RE, regex=True) & tr["stopped_on"].isna(), "patient_id"]
        s = scores.assign(all_resolved=scores["patient_id"].map(all_resolved).fillna(False).astype(bool),
                          resolved_on=lookup(scores["patient_id"], resolved_on))
        hit = s.loc[s["all_resolved"] & (s["scan_date"] > s["resolved_on"])
                    & (s["min_hip_t"] <= th.persistent_osteopenia_t + 1e-9) & ~s["patient_id"].isin(current)]
        if len(hit):
            ev = ("hip episodes resolved by " + hit["resolved_on"].dt.strftime("%Y-%m-%d") + "; "
                  + scan_txt.loc[hit.index] + f" (<= {th.persistent_osteopenia_t:+.1f}); no current bisphosphonate"
                  + _z_note(hit))
            parts.append(make_flags(hit["patient_id"], code="persistent_osteopenia", severity="warn",
                                    title="Osteopenia persists after TOH resolved",
                                    evidence=ev.to_numpy(),
                                    action="Consider bisphosphonate therapy (alendronate 70 mg weekly)", sources="5"))

    low = scores.loc[scores["prefers_z"] & (scores["min_z"] <= th.low_for_age_z + 1e-9)]
    if len(low):
        ev = ("latest scan " + low["scan_date"].dt.strftime("%Y-%m-%d") + ": lowest hip or spine Z-score "
              + low["min_z"].map(lambda v: f"{v:+.1f}") + f" (<= {th.low_for_age_z:+.1f}); patient aged "
              + low["age"].astype(str))
        parts.append(make_flags(low["patient_id"], code="low_for_age", severity="warn",
                                title="Below the expected range for age",
                                evidence=ev.to_numpy(),
                                action="Judge on Z-scores at this age (ISCD); look for secondary causes of low bone mass",
                                sources="ISCD"))
    return pd.concat(parts, ignore_index=True) if parts else _empty()
