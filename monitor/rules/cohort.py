"""The recorded history of a cohort as pandas frames: the input of every clinical rule.

One frame per kind of record, one row per record, dates as `datetime64` (midnight, no zone).
A single patient is a cohort of one. Nothing here reads a clock, a database or a file.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import date

import pandas as pd

# Column -> kind: "id", "text", "date", "bool" (nullable), "float". The loaders and the
# synthetic generator produce exactly these columns.
COLUMNS: dict[str, dict[str, str]] = {
    "patients": {
        "patient_id": "id", "mrn": "text", "name": "text", "sex": "text", "birth_date": "date",
        "enrolled_on": "date", "status": "text", "risk_factors": "text", "postmenopausal": "bool",
        "recorded_on": "date",
    },
    "episodes": {
        "patient_id": "id", "joint": "text", "side": "text", "onset_date": "date",
        "diagnosed_on": "date", "resolved_on": "date", "pregnancy_associated": "bool",
        "fracture": "bool", "fracture_on": "date",
    },
    "scans": {
        "patient_id": "id", "scan_date": "date", "scanner": "text", "site": "text",
        "side": "text", "bmd_g_cm2": "float", "t_score": "float", "z_score": "float",
    },
    "mri": {
        "patient_id": "id", "study_date": "date", "joint": "text", "side": "text",
        "t1_low": "bool", "t2_high": "bool", "edema_homogeneous": "bool",
        "subchondral_normal": "bool", "subchondral_rim": "bool", "reported_as": "text",
        "contrast": "bool",
    },
    "pregnancies": {
        "patient_id": "id", "expected_delivery": "date", "delivered_on": "date",
        # v2: the last day of breastfeeding, or `breastfeeding_ongoing` (no end recorded yet).
        "breastfeeding_until": "date", "breastfeeding_ongoing": "bool",
    },
    "symptoms": {
        "patient_id": "id", "reported_on": "date", "complaint": "text", "side": "text",
        "progressive": "bool", "weight_bearing": "bool",
    },
    "assessments": {
        "patient_id": "id", "assessed_on": "date", "calcium_mg_day": "float",
        "vitamin_d_iu_day": "float", "serum_25ohd_ng_ml": "float", "exercise_min_day": "float",
        "smoker": "bool", "alcohol_drinks_day": "float",
    },
    "treatments": {
        "patient_id": "id", "drug": "text", "dose": "text", "started_on": "date",
        "stopped_on": "date",
    },
}

# The date that places a record in time: records dated after `as_of` are not yet known.
EVENT_DATE = {
    "episodes": "onset_date",
    "scans": "scan_date",
    "mri": "study_date",
    "symptoms": "reported_on",
    "assessments": "assessed_on",
    "treatments": "started_on",
}


def coerce_frame(kind: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Give a frame exactly the columns and dtypes of its kind (missing columns become empty)."""
    spec = COLUMNS[kind]
    out = {}
    n = len(frame)
    for column, ctype in spec.items():
        values = frame[column] if column in frame.columns else pd.Series([None] * n, index=frame.index)
        if ctype == "id":
            out[column] = values.astype("int64")
        elif ctype == "date":
            out[column] = pd.to_datetime(values, errors="raise").astype("datetime64[us]")
        elif ctype == "float":
            out[column] = pd.to_numeric(values).astype("float64")
        elif ctype == "bool":
            out[column] = values.astype("boolean")
        else:
            out[column] = values.astype("str").where(values.notna(), "") if n else values.astype("str")
    return pd.DataFrame(out, index=frame.index).reset_index(drop=True)


def _rows_of(frame: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
    """The frame's rows of these patients, on a fresh 0..n-1 index."""
    keep = frame["patient_id"].isin(ids)
    if keep.all() and frame.index.equals(pd.RangeIndex(len(frame))):
        return frame  # every row kept: no copy (the usual chunk of active patients)
    return frame.loc[keep].reset_index(drop=True)


@dataclass(frozen=True)
class Cohort:
    patients: pd.DataFrame
    episodes: pd.DataFrame
    scans: pd.DataFrame
    mri: pd.DataFrame
    pregnancies: pd.DataFrame
    symptoms: pd.DataFrame
    assessments: pd.DataFrame
    treatments: pd.DataFrame

    @classmethod
    def from_frames(cls, **frames: pd.DataFrame) -> "Cohort":
        """A cohort from any subset of frames; the rest are empty. Columns are normalised."""
        unknown = set(frames) - set(COLUMNS)
        if unknown:
            raise TypeError(f"unknown frame(s): {sorted(unknown)}")
        built = {}
        for kind in COLUMNS:
            frame = frames.get(kind)
            if frame is None:
                frame = pd.DataFrame(columns=list(COLUMNS[kind]))
            built[kind] = coerce_frame(kind, frame)
        return cls(**built)

    def known_on(self, as_of: date) -> "Cohort":
        """The history as it stood on `as_of`: records dated later are dropped."""
        limit = pd.Timestamp(as_of)
        changes = {}
        for kind, column in EVENT_DATE.items():
            frame = getattr(self, kind)
            if len(frame) and (frame[column] > limit).any():
                changes[kind] = frame.loc[frame[column] <= limit].reset_index(drop=True)
        preg = self.pregnancies
        if len(preg) and (preg["delivered_on"] > limit).any():
            # A delivery after as_of has not happened yet; the pregnancy itself stays known.
            preg = preg.copy()
            preg.loc[preg["delivered_on"] > limit, "delivered_on"] = pd.NaT
            changes["pregnancies"] = preg
        eps = changes.get("episodes", self.episodes)
        if len(eps) and (eps["fracture_on"] > limit).any():
            # A fracture dated after as_of has not happened yet.
            eps = eps.copy()
            later = eps["fracture_on"] > limit
            eps.loc[later, "fracture"] = False
            eps.loc[later, "fracture_on"] = pd.NaT
            changes["episodes"] = eps
        for kind, column in (("episodes", "resolved_on"), ("episodes", "diagnosed_on"),
                             ("treatments", "stopped_on")):
            frame = changes.get(kind, getattr(self, kind))
            if len(frame) and (frame[column] > limit).any():
                frame = frame.copy()
                frame.loc[frame[column] > limit, column] = pd.NaT
                changes[kind] = frame
        return replace(self, **changes) if changes else self

    def only(self, patient_ids) -> "Cohort":
        """The cohort restricted to these patients (a frame of theirs alone is kept as it is)."""
        ids = pd.Index(patient_ids)
        return replace(self, **{f.name: _rows_of(getattr(self, f.name), ids) for f in fields(self)})

    def counts(self) -> dict[str, int]:
        return {f.name: len(getattr(self, f.name)) for f in fields(self)}
