"""PROTOCOL.md §1: when each patient's next DXA scan is due, and how urgent that is.

Pure functions of the cohort's recorded history and an explicit `as_of` date, vectorised over
the whole cohort: frames in, frames out. Sources: [1] baseline scan after diagnosis and both
hips monitored; [2, 3] repeat every 2 years, or yearly with additional risk factors.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from monitor.rules.cohort import Cohort
from monitor.config import ScheduleSettings, ThresholdSettings
from monitor.rules.dates import add_months
from monitor.rules.flag_frames import FLAG_COLUMNS, as_recorded, join_by, make_flags
from monitor.rules.pregnancy import pregnancy_spans

STATUSES = ("not_due", "due_soon", "due", "overdue")
HIP_SITES = ("total_hip", "femoral_neck")

# Derived risk factors [PROTOCOL §1]: code -> why it counts.
DERIVED_RISK_FACTORS = {
    "pregnancy_associated_toh": "a pregnancy-associated episode",
    "recurrent_or_migratory_toh": "two or more episodes (recurrent or migratory TOH)",
    "fracture": "a fracture with a TOH episode",
    "smoking": "the latest assessment records a smoker",
    "alcohol_excess": "the latest assessment records more than 2 drinks a day",
}
DEFERRED_REASON = "deferred: no DXA during pregnancy"

SCHEDULE_COLUMNS = [
    "patient_id", "mrn", "name", "status", "due_date", "days_overdue", "last_scan_date",
    "interval_months", "is_baseline", "due_reason", "risk_factors", "risk_reasons",
]


def _fmt(value) -> str:
    return "" if pd.isna(value) else pd.Timestamp(value).date().isoformat()


def risk_factor_table(cohort: Cohort, *, alcohol_drinks_day: float = 2) -> pd.DataFrame:
    """Every risk factor of every patient, one row each: patient_id, code, reason, is_derived.

    Staff-recorded codes come from the patient record; the derived ones from the episodes and
    from the latest assessment (`smoking`, `alcohol_excess`: more than `alcohol_drinks_day`).
    """
    patients = cohort.patients
    staff = patients[["patient_id", "risk_factors"]]
    staff = staff.loc[staff["risk_factors"] != ""]
    staff = (
        staff.assign(code=staff["risk_factors"].str.split(";"))
        .explode("code")[["patient_id", "code"]]
        .assign(reason="recorded by staff", is_derived=False)
    )
    ep = cohort.episodes
    parts = [staff]
    if len(ep):
        label = ep["side"] + " " + ep["joint"] + " onset " + ep["onset_date"].dt.strftime("%Y-%m-%d")
        ep = ep.assign(label=label).sort_values(["patient_id", "onset_date", "joint", "side"])
        preg = ep.loc[ep["pregnancy_associated"].fillna(False).astype(bool)]
        preg = join_by(preg["patient_id"], preg["label"]).rename("label").rename_axis("patient_id").reset_index()
        parts.append(preg.assign(code="pregnancy_associated_toh",
                                 reason="pregnancy-associated episode: " + preg["label"]))
        n = ep.groupby("patient_id").size()
        many = ep.loc[ep["patient_id"].map(n) >= 2]
        counts = join_by(many["patient_id"], many["label"]).rename("label").rename_axis("patient_id").reset_index()
        counts["n"] = counts["patient_id"].map(n)
        parts.append(counts.assign(code="recurrent_or_migratory_toh",
                                   reason=counts["n"].astype(str) + " episodes: " + counts["label"]))
        frac = ep.loc[ep["fracture"].fillna(False).astype(bool) | ep["fracture_on"].notna()]
        frac = join_by(frac["patient_id"], frac["label"]).rename("label").rename_axis("patient_id").reset_index()
        parts.append(frac.assign(code="fracture", reason="fracture with episode: " + frac["label"]))
    a = cohort.assessments
    if len(a):
        latest = a.loc[a["assessed_on"] == a.groupby("patient_id")["assessed_on"].transform("max")]
        latest = latest.drop_duplicates("patient_id", keep="last")
        on = "latest assessment " + latest["assessed_on"].dt.strftime("%Y-%m-%d")
        smoker = latest.loc[latest["smoker"].fillna(False).astype(bool)]
        parts.append(pd.DataFrame({"patient_id": smoker["patient_id"], "code": "smoking",
                                   "reason": on.loc[smoker.index] + ": smoker"}))
        heavy = latest.loc[(latest["alcohol_drinks_day"] > alcohol_drinks_day).fillna(False)]
        parts.append(pd.DataFrame({"patient_id": heavy["patient_id"], "code": "alcohol_excess",
                                   "reason": on.loc[heavy.index] + ": " + heavy["alcohol_drinks_day"].map(as_recorded).astype("str")
                                   + f" drinks a day (more than {alcohol_drinks_day:g})"}))
    table = pd.concat([p.assign(is_derived=p.get("is_derived", True))[["patient_id", "code", "reason", "is_derived"]]
                       for p in parts], ignore_index=True)
    table["is_derived"] = table["is_derived"].astype(bool)
    return table.sort_values(["patient_id", "is_derived", "code"], kind="stable").reset_index(drop=True)


def surveillance_status(due: pd.Series, *, as_of: date, settings: ScheduleSettings) -> tuple[pd.Series, pd.Series]:
    """Status and days overdue for due dates on `as_of`, by the windows of PROTOCOL §1."""
    days = (pd.Timestamp(as_of) - due).dt.days.astype("int64")
    status = np.select(
        [days < -settings.due_soon_days, days < 0, days <= settings.grace_days],
        ["not_due", "due_soon", "due"],
        "overdue",
    )
    return pd.Series(status, index=due.index, dtype="str"), days.clip(lower=0)


def defer_for_pregnancy(due: pd.Series, patient_ids: pd.Series, spans: pd.DataFrame, *,
                        as_of: date) -> tuple[pd.Series, pd.Series]:
    """No DXA in pregnancy: a due date on a pregnant day, or a scan due while she is pregnant on
    `as_of`, moves to the day after delivery (recorded, else expected + 14 days). Returns the
    due dates and whether each moved. Back-to-back pregnancies move it again (at most 3 times)."""
    moved = pd.Series(False, index=due.index)
    spans = spans.loc[spans["start"].notna() & spans["end"].notna()]
    if not len(spans) or not len(due):
        return due, moved
    as_of_ts = pd.Timestamp(as_of)
    for _ in range(3):
        pairs = pd.DataFrame({"row": due.index, "patient_id": patient_ids.to_numpy(), "due": due.to_numpy()})
        pairs = pairs.merge(spans[["patient_id", "start", "end"]], on="patient_id")
        on_pregnant_day = (pairs["due"] >= pairs["start"]) & (pairs["due"] <= pairs["end"])
        due_while_pregnant = (pairs["start"] <= as_of_ts) & (as_of_ts <= pairs["end"]) & (pairs["due"] <= as_of_ts)
        hit = pairs.loc[on_pregnant_day | due_while_pregnant]
        if not len(hit):
            break
        new = (hit.groupby("row")["end"].max() + pd.Timedelta(days=1)).astype("datetime64[us]")
        due = due.copy()
        due.loc[new.index] = new
        moved.loc[new.index] = True
    return due, moved


def schedule(cohort: Cohort, *, as_of: date, settings: ScheduleSettings,
             risks: pd.DataFrame | None = None, pregnancy: ThresholdSettings | None = None) -> pd.DataFrame:
    """The next DXA due date and status of every active patient on `as_of`.

    Baseline: if no scan is dated on or after the diagnosis date of the latest episode, the scan
    is due on that date [1]. Otherwise: last hip scan + 24 months, or 12 with a risk factor [2, 3]
    (a spine-only scan does not restart the hip clock). A patient with neither episode nor scan is
    due a baseline at enrolment. No DXA in pregnancy: see `defer_for_pregnancy`.
    """
    cohort = cohort.known_on(as_of)
    patients = cohort.patients.loc[cohort.patients["status"] == "active"]
    frame = patients[["patient_id", "mrn", "name", "enrolled_on", "recorded_on"]].set_index("patient_id")

    ep = cohort.episodes
    if len(ep):
        ep = ep.assign(diag=ep["diagnosed_on"].fillna(ep["onset_date"]))
        latest = ep.sort_values(["patient_id", "onset_date", "diag"]).groupby("patient_id").tail(1)
        frame["diagnosis_date"] = latest.set_index("patient_id")["diag"].reindex(frame.index)
    else:
        frame["diagnosis_date"] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us]")
    # reindex: assigning a Series to an empty frame would adopt the Series' index.
    # Two columns only: filtering the whole frame would copy its text columns too.
    hip_scans = cohort.scans.loc[cohort.scans["site"].isin(HIP_SITES), ["patient_id", "scan_date"]]
    frame["last_scan_date"] = hip_scans.groupby("patient_id")["scan_date"].max().reindex(frame.index)

    risks = risk_factor_table(cohort) if risks is None else risks
    risks = risks.loc[risks["patient_id"].isin(frame.index)]
    risks = risks.drop_duplicates(["patient_id", "code"]).sort_values(["patient_id", "code"])
    frame["risk_factors"] = join_by(risks["patient_id"], risks["code"], ";").reindex(frame.index)
    frame["risk_reasons"] = join_by(risks["patient_id"], risks["code"] + ": " + risks["reason"]).reindex(frame.index)
    frame["risk_factors"] = frame["risk_factors"].fillna("").astype("str")
    frame["risk_reasons"] = frame["risk_reasons"].fillna("").astype("str")

    has_risk = frame["risk_factors"] != ""
    frame["interval_months"] = np.where(has_risk, settings.risk_interval_months, settings.interval_months)
    frame["interval_months"] = frame["interval_months"].astype("int64")

    diag, last = frame["diagnosis_date"], frame["last_scan_date"]
    needs_baseline = diag.notna() & (last.isna() | (last < diag))
    no_anchor = diag.isna() & last.isna()
    follow_up = add_months(last, frame["interval_months"])
    as_of_ts = pd.Timestamp(as_of)
    due = follow_up.where(~needs_baseline, diag)
    # No episode and no scan: a baseline is due at enrolment, else from when the record reached us.
    # Never "today": a due date that moves every day would make a new reminder every night.
    anchor = frame["enrolled_on"].fillna(frame["recorded_on"]).fillna(as_of_ts)
    due = due.where(~no_anchor, anchor)
    frame["due_date"] = due.astype("datetime64[us]")
    frame["is_baseline"] = needs_baseline | no_anchor

    reason_follow = (
        frame["interval_months"].astype(str) + " months after the scan of "
        + last.dt.strftime("%Y-%m-%d").fillna("")
        + np.where(has_risk, " (risk factors: " + frame["risk_factors"] + ")", " (no additional risk factor)")
    )
    reason_base = (
        "baseline DXA after diagnosis on " + diag.dt.strftime("%Y-%m-%d").fillna("")
        + np.where(last.notna(), "; last scan " + last.dt.strftime("%Y-%m-%d").fillna("") + " predates it", "; no scan yet")
    )
    reason_none = np.where(
        frame["enrolled_on"].notna(),
        "baseline DXA: no episode or scan recorded (enrolled " + frame["enrolled_on"].dt.strftime("%Y-%m-%d").fillna("") + ")",
        "baseline DXA: no episode, scan or enrolment date recorded (record received "
        + frame["recorded_on"].dt.strftime("%Y-%m-%d").fillna("?") + ")",
    )
    frame["due_reason"] = np.where(no_anchor, reason_none, np.where(needs_baseline, reason_base, reason_follow))
    spans = pregnancy_spans(cohort.pregnancies, settings=pregnancy or ThresholdSettings())
    original = frame["due_date"]
    frame["due_date"], moved = defer_for_pregnancy(original, frame.index.to_series(), spans, as_of=as_of)
    frame["due_reason"] = np.where(
        moved, DEFERRED_REASON + " (was due " + original.dt.strftime("%Y-%m-%d").fillna("") + "; "
        + frame["due_reason"] + ")", frame["due_reason"])
    frame["due_reason"] = frame["due_reason"].astype("str")

    frame["status"], frame["days_overdue"] = surveillance_status(frame["due_date"], as_of=as_of, settings=settings)
    out = frame.reset_index()[SCHEDULE_COLUMNS]
    return out.sort_values(["due_date", "mrn"], kind="stable").reset_index(drop=True)


def bilateral_scan_flags(cohort: Cohort, *, as_of: date) -> pd.DataFrame:
    """`incomplete_bilateral_scan` (warn) when the latest scan lacks either hip [1]."""
    cohort = cohort.known_on(as_of)
    active = cohort.patients.loc[cohort.patients["status"] == "active", "patient_id"]
    scans = cohort.scans.loc[cohort.scans["patient_id"].isin(active), ["patient_id", "scan_date", "site", "side"]]
    if not len(scans):
        return pd.DataFrame(columns=FLAG_COLUMNS)
    last = scans.groupby("patient_id")["scan_date"].transform("max")
    latest = scans.loc[scans["scan_date"] == last]
    hips = latest.loc[latest["site"].isin(HIP_SITES)]
    per = pd.DataFrame({
        "scan_date": latest.groupby("patient_id")["scan_date"].first(),
        "left": hips.loc[hips["side"] == "left"].groupby("patient_id").size(),
        "right": hips.loc[hips["side"] == "right"].groupby("patient_id").size(),
    }).fillna({"left": 0, "right": 0})
    missing = per.loc[(per["left"] == 0) | (per["right"] == 0)]
    if not len(missing):
        return pd.DataFrame(columns=FLAG_COLUMNS)
    which = np.select(
        [(missing["left"] == 0) & (missing["right"] == 0), missing["left"] == 0],
        ["both hips", "the left hip"], "the right hip",
    )
    evidence = "scan of " + missing["scan_date"].dt.strftime("%Y-%m-%d") + ": no total hip or femoral neck value for " + which
    return make_flags(
        missing.index.to_series(), code="incomplete_bilateral_scan", severity="warn",
        title="Latest DXA scan does not cover both hips",
        evidence=evidence.to_numpy(),
        action="Measure both hips (total hip and femoral neck) at the next scan; TOH can recur on the other side",
        sources="1",
    )
