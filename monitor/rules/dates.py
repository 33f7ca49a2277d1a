"""Calendar arithmetic on date Series: the one place months are added (PROTOCOL.md §1)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def add_months(dates: pd.Series, months: pd.Series | int) -> pd.Series:
    """Calendar months: the day is clipped to the month's end (2024-02-29 + 12 = 2025-02-28)."""
    months = pd.Series(months, index=dates.index) if np.isscalar(months) else months
    out = pd.Series(pd.NaT, index=dates.index, dtype="datetime64[us]")
    for n in pd.unique(months.dropna()):
        mask = months == n
        out.loc[mask] = dates.loc[mask] + pd.DateOffset(months=int(n))
    return out


def fmt_dates(series: pd.Series) -> pd.Series:
    """ISO dates as text, "" where missing."""
    return series.dt.strftime("%Y-%m-%d").fillna("")
