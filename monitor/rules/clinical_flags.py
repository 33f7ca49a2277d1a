"""PROTOCOL.md §3 and §6: recurrence and migration, MRI findings. Pure functions of the cohort,
already cut to `as_of`. (Pregnancy: monitor.rules.pregnancy_flags; pitfalls and new symptoms:
monitor.rules.pitfalls; prevention: monitor.rules.prevention.)
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
    per_patient_flags,
)
from monitor.rules.dates import add_months



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


def _by_recency(pairs: pd.DataFrame, text: pd.Series, *, as_of: date, config: Config, **info) -> list[pd.DataFrame]:
    """`warn` while an episode of a pair is unresolved or resolved less than `recent_months` before
    `as_of`; afterwards `info`, titled and worded as history (the interval stays 12 months)."""
    limit = pd.Timestamp(as_of)
    recent_until = add_months(pairs["resolved_on_2"], config.thresholds.recent_months)
    first_until = add_months(pairs["resolved_on"], config.thresholds.recent_months)
    recent = (pairs["resolved_on_2"].isna() | (limit < recent_until)
              | pairs["resolved_on"].isna() | (limit < first_until))
    recent_ids = set(pairs.loc[recent, "patient_id"])
    ev = join_by(pairs["patient_id"], text)
    is_recent = ev.index.isin(list(recent_ids))
    parts = []
    if is_recent.any():
        parts.append(per_patient_flags(ev.loc[is_recent], severity="warn", **info))
    if (~is_recent).any():
        months = config.thresholds.recent_months
        parts.append(per_patient_flags(
            f"history (all episodes resolved {months} months or more ago): " + ev.loc[~is_recent],
            severity="info", **{**info, "title": "History: " + _lower_first(info["title"]),
                                "action": "Keep DXA on the risk-factor interval; ask about new joint pain at each visit"}))
    return parts


def _lower_first(title: str) -> str:
    """'Recurrence at ...' -> 'recurrence at ...'; an acronym ('TOH at ...') keeps its capitals."""
    if len(title) > 1 and title[1].isupper():
        return title
    return title[:1].lower() + title[1:]


def recurrence_flags(cohort: Cohort, *, as_of: date, config: Config) -> pd.DataFrame:
    """recurrence_same_site, recurrence_contralateral and migratory_pattern [1]: warn while recent,
    info (history) once every episode they rest on resolved `recent_months` or more ago."""
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
        parts += _by_recency(rec, text, as_of=as_of, config=config, code="recurrence_same_site",
                             title="TOH recurred at the same site",
                             action="Conservative management; MRI without IV contrast to confirm; yearly DXA",
                             sources="1, 4")
    contra = pairs.loc[(pairs["joint"] == "hip") & (pairs["joint_2"] == "hip") & (pairs["side"] != pairs["side_2"])]
    if len(contra):
        text = "new " + _label(contra, "_2") + " after the " + _label(contra)
        parts += _by_recency(contra, text, as_of=as_of, config=config, code="recurrence_contralateral",
                             title="TOH at the other hip",
                             action="Monitor both hips; MRI without IV contrast to confirm; yearly DXA",
                             sources="1, 2")
    window_end = add_months(pairs["onset_date"], config.thresholds.migratory_window_months)
    unresolved = pairs["resolved_on"].isna() | (pairs["resolved_on"] >= pairs["onset_date_2"])
    mig = pairs.loc[~same & ((pairs["onset_date_2"] <= window_end) | unresolved)]
    if len(mig):
        why = np.where(mig["onset_date_2"] <= window_end.loc[mig.index],
                       f"within {config.thresholds.migratory_window_months} months", "while the first was unresolved")
        text = _label(mig) + " → " + _label(mig, "_2") + " " + why
        parts += _by_recency(mig, text, as_of=as_of, config=config, code="migratory_pattern",
                             title="Migratory pattern: TOH moving between joints or sides",
                             action="Ask about knee, ankle and hip pain at each visit; migration is reported mostly "
                                    "within 6 months, sometimes up to 4 years, in 10-40 % of patients",
                             sources="1")
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
