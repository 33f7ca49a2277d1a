"""Every clinical flag of PROTOCOL.md for the whole cohort on `as_of`, in one stable frame."""

from __future__ import annotations

from datetime import date

import pandas as pd

from monitor.rules.bmd_flags import scanner_flags, trend_flags
from monitor.rules.clinical_flags import mri_flags, recurrence_flags
from monitor.rules.cohort import Cohort
from monitor.config import Config
from monitor.rules.flag_frames import FLAG_COLUMNS, as_categories, sort_flags
from monitor.rules.pitfalls import new_joint_pain_flags, pitfall_flags
from monitor.rules.pregnancy import deferred_ids, pregnancy_spans, pregnancy_state
from monitor.rules.pregnancy_flags import pregnancy_flags
from monitor.rules.prevention import prevention_flags
from monitor.rules.schedule import bilateral_scan_flags
from monitor.rules.thresholds import threshold_flags
from monitor.rules.treatment import on_treatment_flags
from monitor.rules.trends import trend_table

# Every code the rules can raise, with its severity (README lists them with their sources).
FLAG_CODES = {
    "incomplete_bilateral_scan": "warn", "contralateral_decline": "warn",
    "affected_decline_after_resolution": "warn", "bilateral_decline": "warn", "affected_recovery": "info",
    "scanner_changed": "info", "recurrence_same_site": "warn", "recurrence_contralateral": "warn",
    "migratory_pattern": "warn", "persistent_osteopenia": "warn", "therapy_indicated": "urgent",
    "low_for_age": "warn", "recovery_options": "info", "conservative_management": "info",
    "fracture_surgical_referral": "urgent", "pregnancy_hip_pain_mri": "urgent",
    "pregnancy_toh_fracture_risk": "urgent", "post_fracture_treatment": "info", "mri_misread_risk": "warn",
    "weight_bearing_despite_pain": "urgent", "prevention_gap": "info",
    # version 2
    "low_bmd_defer_treatment": "warn", "on_bone_treatment": "info", "new_joint_pain_after_toh": "warn",
}
# Codes whose severity falls to `info` as history (PROTOCOL §3: `recent_months` after resolution).
HISTORY_CODES = ("recurrence_same_site", "recurrence_contralateral", "migratory_pattern")


def severities(code: str) -> tuple[str, ...]:
    """Every severity a code can be raised with."""
    return (FLAG_CODES[code], "info") if code in HISTORY_CODES else (FLAG_CODES[code],)


def evaluate_flags(cohort: Cohort, *, as_of: date, config: Config, evidence: bool = True,
                   risks: pd.DataFrame | None = None) -> pd.DataFrame:
    """All flags of active patients: patient_id, code, severity, title, evidence, action, sources.

    `evidence=False` leaves the BMD-change evidence blank (the costliest text to build) for
    callers that show only codes; which flags are raised is the same."""
    cohort = cohort.known_on(as_of)
    active = cohort.patients.loc[cohort.patients["status"] == "active", "patient_id"]
    if not len(active):
        return pd.DataFrame(columns=FLAG_COLUMNS)
    cohort = cohort.only(active)
    trend = trend_table(cohort.scans, settings=config.trend)
    # Once for every rule that asks who is pregnant or breastfeeding (per patient, so the same
    # whichever rule computes it).
    spans = pregnancy_spans(cohort.pregnancies, settings=config.thresholds)
    state = pregnancy_state(cohort, as_of=as_of, settings=config.thresholds, spans=spans)
    parts = [
        bilateral_scan_flags(cohort, as_of=as_of),
        trend_flags(cohort, trend, evidence=evidence, settings=config.thresholds, spans=spans),
        scanner_flags(trend),
        threshold_flags(cohort, as_of=as_of, config=config, risks=risks, state=state),
        on_treatment_flags(cohort, as_of=as_of, config=config, deferred=deferred_ids(state)),
        recurrence_flags(cohort, as_of=as_of, config=config),
        pregnancy_flags(cohort, as_of=as_of, config=config, state=state),
        mri_flags(cohort),
        pitfall_flags(cohort, as_of=as_of, config=config, state=state),
        new_joint_pain_flags(cohort, config=config),
        prevention_flags(cohort, as_of=as_of, config=config, state=state),
    ]
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=FLAG_COLUMNS)
    return sort_flags(as_categories(pd.concat(parts, ignore_index=True)))
