"""The database tables. Plain records: the rules live in the pure modules, not here.

Every clinical table has a natural key (a unique constraint) that makes re-import idempotent.
Dates are dates; timestamps are aware UTC datetimes. Imports never delete a row.
A table whose unique constraint starts with `patient_id` has no index of `patient_id` alone: the
constraint's index serves a patient's lookups (and one index less to keep up on every insert).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

SCHEMA_VERSION = 1


class Patient(SQLModel, table=True):
    __tablename__ = "patient"
    id: int | None = Field(default=None, primary_key=True)
    mrn: str = Field(unique=True, index=True, max_length=64)
    name: str | None = Field(default=None)
    sex: str = Field(max_length=1)
    birth_date: date
    enrolled_on: date | None = None
    status: str = Field(default="active", max_length=16)
    # Recorded menopausal status; unknown means "premenopausal if a woman under 50".
    postmenopausal: bool | None = None
    # The day the record was first imported (set by the system, not by a file).
    recorded_on: date | None = None
    # `;`-separated staff-recorded risk factor codes, sorted.
    risk_factors: str = Field(default="")
    # v2 contact details (not clinical: no rule reads them).
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=254)
    preferred_contact: str | None = Field(default=None, max_length=8)  # phone, email, letter, none
    address: str | None = Field(default=None, max_length=400)  # lines separated by `;`
    language: str | None = Field(default=None, max_length=32)


class PatientStatusChange(SQLModel, table=True):
    """v2: a status change made by staff (`monitor patient discharge|reactivate|...`): append-only.

    The patient's `status` holds the current value; this table says who changed it, when and why.
    """

    __tablename__ = "patient_status_change"
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    from_status: str = Field(max_length=16)
    to_status: str = Field(max_length=16)
    reason: str
    changed_at: datetime
    changed_by: str = Field(max_length=64)  # the OS user (or the web account)
    on_behalf_of: str | None = Field(default=None, max_length=64)  # --by


class FlagSeen(SQLModel, table=True):
    """v2: the first nightly run that saw a flag read this way (for the review list and digest).

    One row per patient, code and fingerprint: new evidence is a new fingerprint, so a new row.
    """

    __tablename__ = "flag_seen"
    __table_args__ = (UniqueConstraint("patient_id", "code", "fingerprint"),)
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    code: str = Field(max_length=48)
    fingerprint: str = Field(max_length=64)
    severity: str = Field(max_length=8)
    first_seen_on: date  # the as_of of the run that first saw it
    run_id: int | None = Field(default=None, foreign_key="job_run.id")


class Episode(SQLModel, table=True):
    __tablename__ = "episode"
    __table_args__ = (UniqueConstraint("patient_id", "joint", "side", "onset_date"),)
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    joint: str = Field(max_length=8)
    side: str = Field(max_length=8)
    onset_date: date
    diagnosed_on: date | None = None
    resolved_on: date | None = None
    pregnancy_associated: bool = False
    fracture: bool = False
    # v2: the day of the fracture, when recorded (a date implies `fracture`).
    fracture_on: date | None = None


class DxaMeasurement(SQLModel, table=True):
    """One DXA value: one site (and side) of one scan."""

    __tablename__ = "dxa_measurement"
    __table_args__ = (UniqueConstraint("patient_id", "scan_date", "site", "side"),)
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    scan_date: date
    scanner: str | None = Field(default=None, max_length=16)
    site: str = Field(max_length=16)
    # "" for the lumbar spine, which has no side.
    side: str = Field(default="", max_length=8)
    bmd_g_cm2: float
    t_score: float | None = None
    z_score: float | None = None


class MriStudy(SQLModel, table=True):
    __tablename__ = "mri_study"
    __table_args__ = (UniqueConstraint("patient_id", "study_date", "joint", "side"),)
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    study_date: date
    joint: str = Field(max_length=8)
    side: str = Field(max_length=8)
    t1_low: bool | None = None
    t2_high: bool | None = None
    edema_homogeneous: bool | None = None
    subchondral_normal: bool | None = None
    subchondral_rim: bool | None = None
    reported_as: str | None = Field(default=None, max_length=16)
    contrast: bool | None = None


class FlagAcknowledgement(SQLModel, table=True):
    """A clinician acknowledged a flag (who, when, note) as it read then (`fingerprint`).

    Append-only; the latest row per patient and code counts while the flag still reads the same.
    """

    __tablename__ = "flag_acknowledgement"
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    code: str = Field(max_length=48)
    fingerprint: str = Field(max_length=64)  # sha256 of the flag's severity, evidence and action
    as_of: date  # the evaluation date the flag was read on
    acknowledged_at: datetime
    acknowledged_by: str = Field(max_length=64)  # the OS user
    on_behalf_of: str | None = Field(default=None, max_length=64)  # --by
    note: str


class Pregnancy(SQLModel, table=True):
    __tablename__ = "pregnancy"
    __table_args__ = (UniqueConstraint("patient_id", "key_on"),)
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    # The expected delivery date when known, else the delivery date: the row's identity.
    key_on: date
    expected_delivery: date | None = None
    delivered_on: date | None = None
    # v2: the last day of breastfeeding; `breastfeeding_ongoing` when recorded as `ongoing`.
    breastfeeding_until: date | None = None
    breastfeeding_ongoing: bool | None = None


class Symptom(SQLModel, table=True):
    __tablename__ = "symptom"
    __table_args__ = (UniqueConstraint("patient_id", "reported_on", "complaint", "side"),)
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    reported_on: date
    complaint: str = Field(max_length=32)
    side: str = Field(default="", max_length=8)
    progressive: bool | None = None
    weight_bearing: bool | None = None


class Assessment(SQLModel, table=True):
    __tablename__ = "assessment"
    __table_args__ = (UniqueConstraint("patient_id", "assessed_on"),)
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    assessed_on: date
    calcium_mg_day: float | None = None
    vitamin_d_iu_day: float | None = None
    serum_25ohd_ng_ml: float | None = None
    exercise_min_day: float | None = None
    smoker: bool | None = None
    alcohol_drinks_day: float | None = None


class Treatment(SQLModel, table=True):
    __tablename__ = "treatment"
    __table_args__ = (UniqueConstraint("patient_id", "drug", "started_on"),)
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    drug: str = Field(max_length=64)
    dose: str | None = None
    started_on: date
    stopped_on: date | None = None


class AuditEvent(SQLModel, table=True):
    """Who did what and when: imports (with every value an import replaced), exports, runs."""

    __tablename__ = "audit_event"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime
    actor: str = Field(max_length=64)
    action: str = Field(max_length=32, index=True)
    subject: str = Field(default="")
    rows: int = 0
    detail: str = Field(default="")  # JSON


class Retraction(SQLModel, table=True):
    """A recorded record marked wrong: kept, shown in the history, ignored by every rule.

    Append-only: a restore fills in the `restored_*` columns; a later retraction of the same
    record is a new row. At most one retraction of a record is active (not restored).
    """

    __tablename__ = "retraction"
    __table_args__ = (
        Index("uq_retraction_active", "table_name", "record_id", unique=True,
              sqlite_where=text("restored_at IS NULL"), postgresql_where=text("restored_at IS NULL")),
    )
    id: int | None = Field(default=None, primary_key=True)
    table_name: str = Field(max_length=32)  # the record's table: episode, dxa_measurement, ...
    record_id: int
    retracted_at: datetime
    retracted_by: str = Field(max_length=64)  # the OS user
    on_behalf_of: str | None = Field(default=None, max_length=64)  # --by
    reason: str
    restored_at: datetime | None = None
    restored_by: str | None = Field(default=None, max_length=64)
    restored_on_behalf_of: str | None = Field(default=None, max_length=64)
    restore_reason: str | None = None


class SchemaInfo(SQLModel, table=True):
    __tablename__ = "schema_info"
    id: int | None = Field(default=None, primary_key=True)
    version: int


class JobRun(SQLModel, table=True):
    """One finished attempt of a scheduled job (written with its results, or after its failure)."""

    __tablename__ = "job_run"
    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=32, index=True)
    slot_on: date  # the scheduled day this run served
    as_of: date
    started_at: datetime
    finished_at: datetime
    outcome: str = Field(max_length=16)  # ok, skipped, failed
    trigger: str = Field(max_length=16)  # schedule, catch-up, manual
    counts: str = Field(default="")  # JSON
    error: str = Field(default="")
    actor: str = Field(default="", max_length=64)


class JobCompletion(SQLModel, table=True):
    """A scheduled slot that has been served: at most one per job and day, whatever fires."""

    __tablename__ = "job_completion"
    __table_args__ = (UniqueConstraint("job", "slot_on"),)
    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=32)
    slot_on: date
    run_id: int = Field(foreign_key="job_run.id")


class Reminder(SQLModel, table=True):
    """A surveillance item to work: immutable once created; its state lives in its events."""

    __tablename__ = "reminder"
    __table_args__ = (UniqueConstraint("patient_id", "item", "due_date"),)
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    item: str = Field(max_length=32)  # "dxa"
    due_date: date
    created_at: datetime
    run_id: int | None = Field(default=None, foreign_key="job_run.id")


class ReminderEvent(SQLModel, table=True):
    """Append-only history of a reminder: created, sent, outreach, deferred, reopened, closed."""

    __tablename__ = "reminder_event"
    id: int | None = Field(default=None, primary_key=True)
    reminder_id: int = Field(foreign_key="reminder.id", index=True)
    at: datetime
    actor: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    outcome: str | None = Field(default=None, max_length=32)
    reason: str | None = None
    until: date | None = None
    # v2: `assigned` events name the assignee ("" unassigns) and a work-by date;
    # `outreach` with outcome `booked` carries the appointment date.
    assignee: str | None = Field(default=None, max_length=64)
    due_by: date | None = None
    booked_on: date | None = None


class WebAccount(SQLModel, table=True):
    """v2: a staff account of the web workspace (`monitor users`); never deleted, only disabled.

    The password is an argon2 hash; failed sign-ins since the last success and the time the
    account stays locked after too many of them are kept here (login throttling)."""

    __tablename__ = "web_account"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, index=True, max_length=32)
    role: str = Field(max_length=16)  # clerk, clinician, admin
    password_hash: str = Field(max_length=256)
    is_disabled: bool = False
    created_at: datetime
    created_by: str = Field(max_length=64)
    password_changed_at: datetime
    failed_logins: int = 0
    locked_until: datetime | None = None
    last_login_at: datetime | None = None


class WebSession(SQLModel, table=True):
    """v2: a signed-in browser. The cookie holds a random token; only its SHA-256 is stored here,
    with the session's CSRF token. Deleted when the user signs out, expires or is disabled."""

    __tablename__ = "web_session"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, index=True, max_length=64)
    account_id: int = Field(foreign_key="web_account.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime
    last_seen_at: datetime
