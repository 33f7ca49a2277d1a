"""What each import file may hold (INTERFACE.md): columns, types, codes and ranges."""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.rules.vocabulary import (
    COMPLAINTS,
    JOINTS,
    REPORTED_AS,
    SCANNERS,
    SEXES,
    SIDES,
    SITES,
    STATUSES,
)

PREFERRED_CONTACTS = ("phone", "email", "letter", "none")
# What a preferred contact needs recorded: the CSV column that must hold (or have stored) a value.
CONTACT_NEEDS = {"phone": "phone", "email": "email", "letter": "address"}

EARLIEST_DATE = "1900-01-01"  # anything earlier is a typing error (year 0000, 0202, ...)

@dataclass(frozen=True)
class Col:
    name: str
    kind: str  # mrn, text, date, bool, float, code, codes; contact details: phone, email, address, language
    required: bool = False
    codes: tuple[str, ...] = ()
    lo: float | None = None
    hi: float | None = None
    field: str | None = None  # the table column, when it differs from the CSV name
    # How far after today a date may lie: (amount, unit), unit "weeks" or "years"; None = not after today.
    future_limit: tuple[int, str] | None = None
    upper: bool = False  # codes written in capitals (sex)
    words: tuple[str, ...] = ()  # a date column's accepted words besides a date (breastfeeding `ongoing`)
    private: bool = False  # a contact detail: an error says what was expected, never what was there

    @property
    def db(self) -> str:
        return self.field or self.name


@dataclass(frozen=True)
class KindSpec:
    kind: str
    table: str
    columns: tuple[Col, ...]
    key: tuple[str, ...]  # table columns besides patient_id that identify a record
    event_dates: tuple[str, ...] = ()  # CSV columns that must not precede birth
    order_checks: tuple[tuple[str, str], ...] = ()  # (earlier, later) CSV columns
    defaults: dict = field(default_factory=dict)  # table column -> value for a new row

    def col(self, name: str) -> Col:
        return next(c for c in self.columns if c.name == name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


MRN = Col("mrn", "mrn", required=True)

SPECS: dict[str, KindSpec] = {
    "patients": KindSpec(
        "patients", "patient",
        (MRN, Col("name", "text"), Col("sex", "code", True, SEXES, upper=True),
         Col("birth_date", "date", True), Col("enrolled_on", "date"),
         Col("status", "code", codes=STATUSES), Col("risk_factors", "codes"), Col("postmenopausal", "bool"),
         # v2 contact details: not clinical (no rule reads them); never echoed in an error.
         Col("phone", "phone", private=True), Col("email", "email", private=True),
         Col("preferred_contact", "code", codes=PREFERRED_CONTACTS, private=True),
         Col("address", "address", private=True), Col("language", "language", private=True)),
        key=("mrn",),
        order_checks=(("birth_date", "enrolled_on"),),
        defaults={"status": "active", "risk_factors": "", "name": None, "enrolled_on": None},
    ),
    "episodes": KindSpec(
        "episodes", "episode",
        (MRN, Col("joint", "code", True, JOINTS), Col("side", "code", True, SIDES),
         Col("onset_date", "date", True), Col("diagnosed_on", "date"), Col("resolved_on", "date"),
         Col("pregnancy_associated", "bool"), Col("fracture", "bool"), Col("fracture_on", "date")),
        key=("joint", "side", "onset_date"),
        event_dates=("onset_date",),
        order_checks=(("onset_date", "diagnosed_on"), ("onset_date", "resolved_on"), ("onset_date", "fracture_on")),
        defaults={"pregnancy_associated": False, "fracture": False},
    ),
    "scans": KindSpec(
        "scans", "dxa_measurement",
        (MRN, Col("scan_date", "date", True), Col("scanner", "code", codes=SCANNERS),
         Col("site", "code", True, SITES), Col("side", "code", codes=SIDES),
         Col("bmd", "float", True, lo=0.2, hi=2.0, field="bmd_g_cm2"),
         Col("t_score", "float", lo=-7, hi=7), Col("z_score", "float", lo=-7, hi=7)),
        key=("scan_date", "site", "side"),
        event_dates=("scan_date",),
    ),
    "mri": KindSpec(
        "mri", "mri_study",
        (MRN, Col("study_date", "date", True), Col("joint", "code", True, JOINTS),
         Col("side", "code", True, SIDES), Col("t1_low", "bool"), Col("t2_high", "bool"),
         Col("edema_homogeneous", "bool"), Col("subchondral_normal", "bool"),
         Col("subchondral_rim", "bool"), Col("reported_as", "code", codes=REPORTED_AS),
         Col("contrast", "bool")),
        key=("study_date", "joint", "side"),
        event_dates=("study_date",),
    ),
    "pregnancies": KindSpec(
        "pregnancies", "pregnancy",
        (MRN, Col("expected_delivery", "date", future_limit=(44, "weeks")), Col("delivered_on", "date"),
         # v2: the last day of breastfeeding (it may be planned), or `ongoing`
         Col("breastfeeding_until", "date", future_limit=(3, "years"), words=("ongoing",))),
        key=("key_on",),
        event_dates=("expected_delivery", "delivered_on"),
        order_checks=(("delivered_on", "breastfeeding_until"),),
    ),
    "symptoms": KindSpec(
        "symptoms", "symptom",
        (MRN, Col("reported_on", "date", True), Col("complaint", "code", True, COMPLAINTS),
         Col("side", "code", codes=SIDES), Col("progressive", "bool"), Col("weight_bearing", "bool")),
        key=("reported_on", "complaint", "side"),
        event_dates=("reported_on",),
    ),
    "assessments": KindSpec(
        "assessments", "assessment",
        (MRN, Col("assessed_on", "date", True), Col("calcium_mg_day", "float", lo=0, hi=10000),
         Col("vitamin_d_iu_day", "float", lo=0, hi=100000), Col("serum_25ohd_ng_ml", "float", lo=0, hi=300),
         Col("exercise_min_day", "float", lo=0, hi=1440), Col("smoker", "bool"),
         Col("alcohol_drinks_day", "float", lo=0, hi=100)),
        key=("assessed_on",),
        event_dates=("assessed_on",),
    ),
    "treatments": KindSpec(
        "treatments", "treatment",
        (MRN, Col("drug", "text", True), Col("dose", "text"), Col("started_on", "date", True),
         Col("stopped_on", "date", future_limit=(10, "years"))),
        key=("drug", "started_on"),
        event_dates=("started_on",),
        order_checks=(("started_on", "stopped_on"),),
    ),
}

# What a stored date is called in an error about a later birth date.
EVENT_LABELS = {
    "onset_date": "episode onset", "scan_date": "scan", "study_date": "MRI study",
    "expected_delivery": "expected delivery", "delivered_on": "delivery", "reported_on": "symptom report",
    "assessed_on": "assessment", "started_on": "treatment start",
}

# Patients first: the other kinds refer to them.
IMPORT_ORDER = tuple(SPECS)
