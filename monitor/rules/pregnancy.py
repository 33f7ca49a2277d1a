"""PROTOCOL.md vocabulary: pregnant on a day, breastfeeding on a day (version 2).

Pure and vectorised: a pregnancy is a span per record, and "on d" is a merge of (patient, d)
pairs with the spans. Pregnant on d: from the (expected) delivery − `pregnancy_weeks` to the
delivery, or expected + `undelivered_days` while none is recorded. Breastfeeding on d: from the
delivery to `breastfeeding_until` (`ongoing`: `ongoing_breastfeeding_months` after delivery).
Both ends are included.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from monitor.rules.cohort import Cohort
from monitor.config import ThresholdSettings
from monitor.rules.dates import add_months

SPAN_COLUMNS = ["patient_id", "start", "end", "delivered_on", "expected_delivery", "bf_end"]


def pregnancy_spans(pregnancies: pd.DataFrame, *, settings: ThresholdSettings) -> pd.DataFrame:
    """One row per pregnancy: when she is pregnant (start..end) and breastfeeding (delivered_on..bf_end)."""
    p = pregnancies
    if not len(p):
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "patient_id" else "datetime64[us]")
                             for c in SPAN_COLUMNS})
    weeks = pd.Timedelta(weeks=settings.pregnancy_weeks)
    start = (p["expected_delivery"] - weeks).fillna(p["delivered_on"] - weeks)
    end = p["delivered_on"].fillna(p["expected_delivery"] + pd.Timedelta(days=settings.undelivered_days))
    ongoing = add_months(p["delivered_on"], settings.ongoing_breastfeeding_months)
    is_ongoing = p["breastfeeding_ongoing"].fillna(False).astype(bool)
    # `ongoing` wins over a date kept from an earlier import (a re-import with `ongoing` clears no date).
    bf_end = ongoing.where(is_ongoing, p["breastfeeding_until"])
    bf_end = bf_end.where(p["delivered_on"].notna())  # breastfeeding follows a recorded delivery
    return pd.DataFrame({
        "patient_id": p["patient_id"], "start": start, "end": end, "delivered_on": p["delivered_on"],
        "expected_delivery": p["expected_delivery"], "bf_end": bf_end.astype("datetime64[us]"),
    })[SPAN_COLUMNS].reset_index(drop=True)


def _within(spans: pd.DataFrame, lo: str, hi: str, patient_ids: pd.Series, days) -> pd.Series:
    """Per row of `patient_ids`: whether its day (one per row, or one for all) lies in a span."""
    ids = pd.Series(patient_ids)
    out = pd.Series(False, index=ids.index)
    spans = spans.loc[spans[lo].notna() & spans[hi].notna()]
    if not len(ids) or not len(spans):
        return out
    day = (pd.Series(pd.Timestamp(days), index=ids.index) if isinstance(days, (date, pd.Timestamp))
           else pd.Series(days, index=ids.index))
    pairs = pd.DataFrame({"row": np.arange(len(ids)), "patient_id": ids.to_numpy(), "day": day.to_numpy()})
    pairs = pairs.merge(spans[["patient_id", lo, hi]], on="patient_id")
    hit = pairs.loc[(pairs["day"] >= pairs[lo]) & (pairs["day"] <= pairs[hi]), "row"].unique()
    out.iloc[hit] = True
    return out


def pregnant_on(spans: pd.DataFrame, patient_ids: pd.Series, days) -> pd.Series:
    """Pregnant on each row's day (a date for all rows, or a Series of days)."""
    return _within(spans, "start", "end", patient_ids, days)


def breastfeeding_on(spans: pd.DataFrame, patient_ids: pd.Series, days) -> pd.Series:
    """Breastfeeding on each row's day."""
    return _within(spans, "delivered_on", "bf_end", patient_ids, days)


def pregnancy_state(cohort: Cohort, *, as_of: date, settings: ThresholdSettings,
                    spans: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per patient of the cohort on `as_of`: is_pregnant, is_breastfeeding (indexed by patient_id).

    `spans`: the cohort's `pregnancy_spans` when the caller has them already."""
    spans = pregnancy_spans(cohort.pregnancies, settings=settings) if spans is None else spans
    ids = cohort.patients["patient_id"]
    return pd.DataFrame({
        "is_pregnant": pregnant_on(spans, ids, as_of).to_numpy(),
        "is_breastfeeding": breastfeeding_on(spans, ids, as_of).to_numpy(),
    }, index=pd.Index(ids.to_numpy(), name="patient_id"))


def deferred_ids(state: pd.DataFrame) -> pd.Index:
    """Patients pregnant or breastfeeding on as_of: drug decisions wait for after both."""
    return state.index[state["is_pregnant"] | state["is_breastfeeding"]]
