"""Stored codes as the words a clinician reads on a report (`ge_lunar` is "GE Lunar")."""

from __future__ import annotations

WORDS = {
    "ge_lunar": "GE Lunar", "hologic": "Hologic", "other": "other make",
    "toh": "TOH", "osteonecrosis": "osteonecrosis", "normal": "normal",
    "hip_pain": "hip pain", "groin_pain": "groin pain", "low_back_pain_to_groin": "low back pain to groin",
    "knee_pain": "knee pain", "ankle_pain": "ankle pain",
    "not_due": "not due", "due_soon": "due soon", "due": "due", "overdue": "overdue",
    "total_hip": "total hip", "femoral_neck": "femoral neck", "lumbar_spine": "lumbar spine",
}
TOKENS = {"toh": "TOH", "mri": "MRI", "bmd": "BMD", "dxa": "DXA", "lsc": "LSC"}
SEVERITY_MARK = {"urgent": "▲ URGENT", "warn": "● WARNING", "info": "○ note"}


def word(code) -> str:
    """The reader's word for a stored code; an unknown code with its underscores as spaces."""
    if code is None or code != code:  # None or NaN
        return "?"
    code = str(code)
    return WORDS.get(code) or " ".join(TOKENS.get(t, t) for t in code.split("_"))
