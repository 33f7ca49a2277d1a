"""The shape of a flag (PROTOCOL.md, "A flag"): a frame with one row per raised flag."""

from __future__ import annotations

import functools
import numpy as np
import pandas as pd

FLAG_COLUMNS = ["patient_id", "code", "severity", "title", "evidence", "action", "sources"]
SEVERITIES = ("info", "warn", "urgent")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}


def make_flags(patient_ids: pd.Series, *, code: str, severity: str, title: str, evidence, action: str,
               sources: str) -> pd.DataFrame:
    """Flags of one code for the given patients; evidence is one string or one per patient."""
    if severity not in SEVERITIES:
        raise ValueError(f"unknown severity {severity!r}")
    ids = pd.Series(np.asarray(patient_ids, dtype="int64"))
    zeros = np.zeros(len(ids), dtype=np.int8)

    def constant(value: str) -> pd.Categorical:
        # One category, n codes: no per-row copy of a text that is the same on every row.
        return pd.Categorical.from_codes(zeros, dtype=_one_category(value))

    return pd.DataFrame({
        "patient_id": ids,
        "code": constant(code),
        "severity": constant(severity),
        "title": constant(title),
        "evidence": pd.Series(evidence, dtype="str") if not isinstance(evidence, str) else evidence,
        "action": constant(action),
        "sources": constant(sources),
    }, columns=FLAG_COLUMNS)


@functools.lru_cache(maxsize=1024)
def _one_category(value: str) -> pd.CategoricalDtype:
    """The dtype of a column that holds one text (made once: building it costs ~0.1 ms, and
    every evaluation makes ~200 such columns)."""
    return pd.CategoricalDtype([value])


def per_patient_flags(evidence: pd.Series, **info) -> pd.DataFrame:
    """Flags of one code from evidence texts indexed by patient id (as `join_by` returns them)."""
    return make_flags(evidence.index.to_series(), evidence=evidence.to_numpy(), **info)


CONSTANT_COLUMNS = ("code", "severity", "title", "action", "sources")


def as_categories(flags: pd.DataFrame) -> pd.DataFrame:
    """The per-code texts as categoricals: sorting and selecting 300,000 flags then moves small
    integers, not strings (`pd.concat` of differing categoricals falls back to plain objects)."""
    return flags.astype({c: "category" for c in CONSTANT_COLUMNS})


def lookup(keys: pd.Series, values: pd.Series) -> pd.Series:
    """values[key] for each key, keeping the values' dtype (NaT/NaN where absent).

    `Series.map(other_series)` fails on an empty datetime Series in pandas 3; reindex does not.
    """
    return pd.Series(values.reindex(keys.to_numpy()).to_numpy(), index=keys.index, dtype=values.dtype)


def join_by(keys: pd.Series, texts: pd.Series, sep: str = "; ") -> pd.Series:
    """Texts joined per key, in their order, indexed by key in ascending order.

    The same as `texts.groupby(keys).agg(sep.join)`, without a pandas object per group: one
    stable sort, then a plain join over slices of a list.
    """
    key_arr = np.asarray(keys)
    if not len(key_arr):
        return pd.Series(dtype="str")
    order = np.argsort(key_arr, kind="stable")
    sorted_keys = key_arr[order]
    text_list = np.asarray(pd.Series(texts).astype("str"), dtype=object)[order].tolist()
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    ends = np.r_[starts[1:], len(sorted_keys)]
    joined = [text_list[s] if e - s == 1 else sep.join(text_list[s:e]) for s, e in zip(starts, ends)]
    return pd.Series(joined, index=sorted_keys[starts], dtype="str")


def severity_rank(severity: pd.Series) -> pd.Series:
    """0 info, 1 warn, 2 urgent (an integer Series, even when empty)."""
    return severity.map(SEVERITY_RANK).astype("int64")


def sort_flags(flags: pd.DataFrame) -> pd.DataFrame:
    """Per patient, most severe first, then by code; flags of one code keep the order the rules
    made them in (fixed, and built from date-sorted records), so the output never depends on the
    order of the input. Integer keys only: sorting 300,000 evidence texts took half a second."""
    if not len(flags):
        return flags.reset_index(drop=True)
    code_index, _ = pd.factorize(flags["code"], sort=True)
    order = np.lexsort((code_index, -severity_rank(flags["severity"]).to_numpy(), flags["patient_id"].to_numpy()))
    return flags.iloc[order].reset_index(drop=True)


def as_recorded(value) -> str:
    """A number as it was recorded: 19.6 stays "19.6", 1000.0 is "1000"; never rounded across a
    threshold. Missing values read "not recorded"."""
    if value is None or value != value:  # NaN
        return "not recorded"
    text = format(float(value), ".10g")
    return text if "e" not in text else repr(float(value))


def signed(value) -> str:
    """A signed number as recorded ("-2.05", "+0.3")."""
    text = as_recorded(value)
    return text if text.startswith("-") or text == "not recorded" else "+" + text
