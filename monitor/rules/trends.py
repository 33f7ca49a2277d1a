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
# Float noise (0.9 - 0.875 = 0.025000000000000022) must not decide significance; anything
# larger does: changes are compared in full precision (0.0249 < LSC 0.025).
EPS = 1e-9


def trend_table(scans: pd.DataFrame, *, settings: TrendSettings) -> pd.DataFrame:
    """One row per DXA value with its change against the previous scan and the series baseline.

    A series is one patient, site and side on one scanner make; a scan without a make is taken
    to be of the make of the scans around it. `significant_*` is |ΔBMD| >= the site's LSC.
    """
    if not len(scans):
        return pd.DataFrame(columns=TREND_COLUMNS)
    # Integer codes for the text keys: sorting and comparing numbers beats comparing strings.
    site_code, site_names = pd.factorize(scans["site"], sort=True)
    side_code = pd.factorize(scans["side"], sort=True)[0]
    order = np.lexsort((scans["scan_date"].to_numpy(), side_code, site_code, scans["patient_id"].to_numpy()))
    t = scans.iloc[order].reset_index(drop=True)
    pid, site_code, side_code = t["patient_id"].to_numpy(), site_code[order], side_code[order]
    same = np.r_[False, (pid[1:] == pid[:-1]) & (site_code[1:] == site_code[:-1]) & (side_code[1:] == side_code[:-1])]
    group = np.cumsum(~same)  # one integer per patient, site and side
    blank = (t["scanner"].fillna("") == "").to_numpy()
    if blank.any():
        make = t["scanner"].astype("object").where(~blank, None)
        make = make.groupby(group).ffill().groupby(group).bfill()
        t["scanner"] = make.fillna("unknown").astype("str")
    scanner = pd.factorize(t["scanner"])[0]
    changed = ~same | np.r_[True, scanner[1:] != scanner[:-1]]
    series = np.cumsum(changed)  # one integer per patient, site, side and make
    starts = np.flatnonzero(changed)
    t["series"] = (series - series[starts[group - 1]]).astype("int64")  # 0 = the group's first make

    # Per known site, its rows: compared as integer codes, not as 350,000 strings per site.
    code_of = {name: i for i, name in enumerate(site_names)}
    masks = [site_code == code_of.get(site, -2) for site in SITE_ORDER]
    lsc = [settings.lsc(site) for site in SITE_ORDER]
    t["lsc_g_cm2"] = np.select(masks, [v for v, _ in lsc], np.nan)
    t["lsc_measured"] = np.select(masks, [m for _, m in lsc], False).astype(bool)

    # Rows are sorted, so "previous in the series" is the row above unless a series starts here,
    # and the baseline is the series' first row.
    has_prev = ~changed
    above = np.r_[0, np.arange(len(t) - 1)]
    dates, bmd = t["scan_date"].to_numpy(), t["bmd_g_cm2"].to_numpy()
    t["prev_date"] = np.where(has_prev, dates[above], np.datetime64("NaT"))
    t["prev_bmd"] = np.where(has_prev, bmd[above], np.nan)
    first = starts[series - 1]
    t["base_date"] = np.where(has_prev, dates[first], np.datetime64("NaT"))
    t["base_bmd"] = np.where(has_prev, bmd[first], np.nan)
    t["prev_date"] = t["prev_date"].astype("datetime64[us]")
    t["base_date"] = t["base_date"].astype("datetime64[us]")

    for tag, ref_date, ref_bmd in (("prev", "prev_date", "prev_bmd"), ("base", "base_date", "base_bmd")):
        delta = t["bmd_g_cm2"] - t[ref_bmd]
        years = (t["scan_date"] - t[ref_date]).dt.days / 365.25
        t[f"delta_{tag}"] = delta
        pct = 100 * delta / t[ref_bmd]
        t[f"pct_{tag}"] = pct.round(2)
        t[f"pct_year_{tag}"] = (pct / years.where(years > 0)).round(2)
        t[f"significant_{tag}"] = (delta.abs() >= t["lsc_g_cm2"] - EPS).fillna(False).astype(bool)

    t["is_latest"] = t["scan_date"] == t.groupby("patient_id")["scan_date"].transform("max")
    return t[TREND_COLUMNS]


def format_delta(delta: float, lsc: float) -> str:
    """A BMD change to 3 decimals, or as many more as it takes for the shown value to agree with
    the full-precision comparison with the LSC (-0.0249 is "-0.0249", never "-0.025")."""
    if delta != delta:  # NaN
        return ""
    significant = abs(delta) >= lsc - EPS
    for digits in range(3, 7):
        text = format(delta, f"+.{digits}f")
        if (abs(float(text)) >= lsc - EPS) == significant:
            return text
    return format(delta, "+.10g")


def format_lsc(lsc: float) -> str:
    """The LSC to 3 decimals unless it has more (a measured 0.0277 stays 0.0277)."""
    return format(lsc, ".3f") if abs(round(lsc, 3) - lsc) < EPS else format(lsc, ".10g")


def _fmt(values, spec: str) -> list[str]:
    return ["" if v != v else format(v, spec) for v in values]  # v != v: NaN


def describe_changes(rows: pd.DataFrame, tags: pd.Series) -> pd.Series:
    """One text per row: 'right total hip 0.950 → 0.910 g/cm² (-0.040; -4.2 %; -4.1 %/yr) 2024-01-10 →
    2025-01-12 vs previous'; `tags` says per row whether to compare with 'prev' or 'base'."""
    out = pd.Series("", index=rows.index, dtype="object")
    for tag in ("prev", "base"):
        sel = rows.loc[tags == tag]
        if not len(sel):
            continue
        texts = []
        deltas = [format_delta(d, lsc) for d, lsc in zip(sel[f"delta_{tag}"].tolist(), sel["lsc_g_cm2"].tolist())]
        for side, site, ref, now, delta, pct, rate, ref_on, on in zip(
                sel["side"].tolist(), sel["site"].tolist(), _bmd(sel[f"{tag}_bmd"].tolist()),
                _bmd(sel["bmd_g_cm2"].tolist()), deltas,
                _fmt(sel[f"pct_{tag}"].tolist(), "+.1f"), _fmt(sel[f"pct_year_{tag}"].tolist(), "+.1f"),
                sel[f"{tag}_date"].dt.strftime("%Y-%m-%d").tolist(), sel["scan_date"].dt.strftime("%Y-%m-%d").tolist()):
            where = f"{side} {site.replace('_', ' ')}".strip()
            per_year = f"; {rate} %/yr" if rate else ""
            texts.append(f"{where} {ref} → {now} g/cm² ({delta}; {pct} %{per_year}) {ref_on} → {on} "
                         f"{'vs previous' if tag == 'prev' else 'vs baseline'}")
        out.loc[sel.index] = texts
    return out.astype("str")


def _bmd(values) -> list[str]:
    """BMD to 3 decimals, more when recorded with more (so the shown values add up)."""
    return ["" if v != v else format_lsc(v) for v in values]


def lsc_note(lsc: float, measured: bool) -> str:
    return f"LSC {format_lsc(lsc)} g/cm², {'measured here' if measured else 'default, not measured here'}"
