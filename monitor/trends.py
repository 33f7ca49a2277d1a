"""PROTOCOL.md §2: BMD change per site and side, judged against the least significant change.

The trend table is a first-class result: the flags read it, `monitor show` prints it and the
reports draw it. Change is judged on BMD (g/cm²), never on T-score, and only between scans of
the same scanner make: a make change starts a new series [1, 2].
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from monitor.config import TrendSettings

TREND_COLUMNS = [
    "patient_id", "site", "side", "scan_date", "scanner", "series", "bmd_g_cm2", "t_score", "z_score",
    "lsc_g_cm2", "lsc_measured", "prev_date", "prev_bmd", "delta_prev", "pct_prev", "pct_year_prev",
    "significant_prev", "base_date", "base_bmd", "delta_base", "pct_base", "pct_year_base",
    "significant_base", "is_latest",
]
SITE_ORDER = {"total_hip": 0, "femoral_neck": 1, "lumbar_spine": 2}
SIDE_ORDER = {"left": 0, "right": 1, "": 2}
# Rounding noise must not decide significance: BMD is recorded to 3 decimals.
EPS = 1e-9


def trend_table(scans: pd.DataFrame, *, settings: TrendSettings) -> pd.DataFrame:
    """One row per DXA value with its change against the previous scan and the series baseline.

    A series is one patient, site and side on one scanner make; a scan without a make is taken
    to be of the make of the scans around it. `significant_*` is |ΔBMD| >= the site's LSC.
    """
    if not len(scans):
        return pd.DataFrame(columns=TREND_COLUMNS)
    t = scans.sort_values(["patient_id", "site", "side", "scan_date"], kind="stable").reset_index(drop=True)
    same = t[["patient_id", "site", "side"]].eq(t[["patient_id", "site", "side"]].shift()).all(axis=1)
    group = (~same).cumsum().to_numpy()  # one integer per patient, site and side
    make = t["scanner"].replace("", np.nan).astype("object")
    make = make.groupby(group).ffill()
    make = make.groupby(group).bfill().fillna("unknown")
    t["scanner"] = make.astype("str")
    changed = ~same | (t["scanner"] != t["scanner"].shift())
    t["series"] = (changed.groupby(group).cumsum() - 1).astype("int64")  # 0 = the first make

    lsc = {site: settings.lsc(site) for site in SITE_ORDER}
    t["lsc_g_cm2"] = t["site"].map({s: v[0] for s, v in lsc.items()}).astype("float64")
    t["lsc_measured"] = t["site"].map({s: v[1] for s, v in lsc.items()}).astype("bool")

    series = (changed.cumsum()).to_numpy()  # one integer per patient, site, side and make
    t["prev_date"] = t.groupby(series)["scan_date"].shift()
    t["prev_bmd"] = t.groupby(series)["bmd_g_cm2"].shift()
    t["base_date"] = t.groupby(series)["scan_date"].transform("first")
    t["base_bmd"] = t.groupby(series)["bmd_g_cm2"].transform("first")
    is_base = t["scan_date"] == t["base_date"]
    t.loc[is_base, ["base_date", "base_bmd"]] = [pd.NaT, np.nan]

    for tag, ref_date, ref_bmd in (("prev", "prev_date", "prev_bmd"), ("base", "base_date", "base_bmd")):
        delta = (t["bmd_g_cm2"] - t[ref_bmd]).round(4)
        years = (t["scan_date"] - t[ref_date]).dt.days / 365.25
        t[f"delta_{tag}"] = delta
        pct = 100 * delta / t[ref_bmd]
        t[f"pct_{tag}"] = pct.round(2)
        t[f"pct_year_{tag}"] = (pct / years.where(years > 0)).round(2)
        t[f"significant_{tag}"] = (delta.abs() >= t["lsc_g_cm2"] - EPS).fillna(False).astype(bool)

    latest = t.groupby("patient_id")["scan_date"].transform("max")
    t["is_latest"] = t["scan_date"] == latest
    return t[TREND_COLUMNS]


def _signed(values: pd.Series, spec: str) -> pd.Series:
    return values.map(lambda v: "" if pd.isna(v) else format(v, spec))


def describe_changes(rows: pd.DataFrame, tags: pd.Series) -> pd.Series:
    """One text per row: 'right total hip 0.950 → 0.910 g/cm² (-0.040; -4.2 %; -4.1 %/yr) 2024-01-10 →
    2025-01-12 vs previous'; `tags` says per row whether to compare with 'prev' or 'base'."""
    out = pd.Series("", index=rows.index, dtype="str")
    for tag in ("prev", "base"):
        sel = rows.loc[tags == tag]
        if not len(sel):
            continue
        where = (sel["side"] + " " + sel["site"].str.replace("_", " ")).str.strip()
        rate = _signed(sel[f"pct_year_{tag}"], "+.1f")
        rate = rate.where(rate == "", "; " + rate + " %/yr")
        out.loc[sel.index] = (
            where + " " + _signed(sel[f"{tag}_bmd"], ".3f") + " → " + _signed(sel["bmd_g_cm2"], ".3f") + " g/cm² ("
            + _signed(sel[f"delta_{tag}"], "+.3f") + "; " + _signed(sel[f"pct_{tag}"], "+.1f") + " %" + rate + ") "
            + sel[f"{tag}_date"].dt.strftime("%Y-%m-%d") + " → " + sel["scan_date"].dt.strftime("%Y-%m-%d")
            + (" vs previous" if tag == "prev" else " vs baseline"))
    return out


def lsc_note(lsc: float, measured: bool) -> str:
    return f"LSC {lsc:.3f} g/cm², {'measured here' if measured else 'default, not measured here'}"
