"""Every clinical flag of PROTOCOL.md for the whole cohort on `as_of`, in one stable frame."""

from __future__ import annotations

from datetime import date

import pandas as pd

from monitor.cohort import Cohort
from monitor.config import Config
from monitor.flagging import FLAG_COLUMNS, sort_flags
from monitor.schedule import bilateral_scan_flags


def evaluate_flags(cohort: Cohort, *, as_of: date, config: Config) -> pd.DataFrame:
    """All flags of active patients: patient_id, code, severity, title, evidence, action, sources."""
    cohort = cohort.known_on(as_of)
    parts = [bilateral_scan_flags(cohort, as_of=as_of)]
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=FLAG_COLUMNS)
    flags = pd.concat(parts, ignore_index=True)
    active = cohort.patients.loc[cohort.patients["status"] == "active", "patient_id"]
    return sort_flags(flags.loc[flags["patient_id"].isin(active)])
