"""The codes of the clinical record: sexes, statuses, joints, sides, DXA sites, MRI readings, complaints."""

SEXES = ("F", "M", "X")
STATUSES = ("active", "discharged", "deceased", "opted_out", "transferred")
JOINTS = ("hip", "knee", "ankle", "foot")
SIDES = ("left", "right")
SCANNERS = ("hologic", "ge_lunar", "other")
SITES = ("femoral_neck", "total_hip", "lumbar_spine")
REPORTED_AS = ("toh", "osteonecrosis", "normal", "other")
COMPLAINTS = ("hip_pain", "groin_pain", "low_back_pain_to_groin", "knee_pain", "ankle_pain")

# How a page names a code for staff (a code not here reads with spaces for underscores).
LABELS = {"hologic": "Hologic", "ge_lunar": "GE Lunar", "toh": "TOH", "bmi": "BMI", "mri": "MRI",
          "dxa": "DXA"}


def label(code: str) -> str:
    """A code as words: `ge_lunar` -> GE Lunar, `alcohol_excess` -> alcohol excess, `low_bmi` -> low BMI."""
    return LABELS.get(code) or " ".join(LABELS.get(word, word) for word in code.split("_"))
