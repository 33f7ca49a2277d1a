"""SQLAlchemy Core views of the few tables every data command touches, without SQLModel.

`monitor.store.tables` declares the schema with SQLModel; importing it (sqlmodel, pydantic, the
ORM, twenty model classes) costs ~0.4 s of CPU, more than a one-patient `show` spends on its
data. The read paths shared by every command (acknowledgements, contact details, status
history, the nights a flag was first seen), the nightly run's writes and the audit log's insert use these Core tables instead: the same table and column
names and the same types, so the SQL sent and the values read are the same.
tests/integration/test_core_tables.py checks every column here against `tables.py`.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Column, Date, DateTime, Integer, MetaData, String, Table, TypeDecorator


class UTCDateTime(TypeDecorator):
    """An aware UTC datetime, stored as sqlmodel's UTCDateTime stores it (UTC; no offset on SQLite)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError("timestamps must be aware (UTC)")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:  # SQLite keeps UTC without an offset
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


metadata = MetaData()

audit_event = Table(
    "audit_event", metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("subject", String, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("detail", String, nullable=False),
)

flag_acknowledgement = Table(
    "flag_acknowledgement", metadata,
    Column("id", Integer, primary_key=True),
    Column("patient_id", Integer, nullable=False),
    Column("code", String(48), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("as_of", Date, nullable=False),
    Column("acknowledged_at", UTCDateTime, nullable=False),
    Column("acknowledged_by", String(64), nullable=False),
    Column("on_behalf_of", String(64)),
    Column("note", String, nullable=False),
)

flag_seen = Table(
    "flag_seen", metadata,
    Column("id", Integer, primary_key=True),
    Column("patient_id", Integer, nullable=False),
    Column("code", String(48), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("first_seen_on", Date, nullable=False),
    Column("run_id", Integer),
)

# The nightly run's own tables (jobs.nightly writes them without loading the models).
job_run = Table(
    "job_run", metadata,
    Column("id", Integer, primary_key=True),
    Column("job", String(32), nullable=False),
    Column("slot_on", Date, nullable=False),
    Column("as_of", Date, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("trigger", String(16), nullable=False),
    Column("counts", String, nullable=False),
    Column("error", String, nullable=False),
    Column("actor", String(64), nullable=False),
)

job_completion = Table(
    "job_completion", metadata,
    Column("id", Integer, primary_key=True),
    Column("job", String(32), nullable=False),
    Column("slot_on", Date, nullable=False),
    Column("run_id", Integer, nullable=False),
)

reminder = Table(
    "reminder", metadata,
    Column("id", Integer, primary_key=True),
    Column("patient_id", Integer, nullable=False),
    Column("item", String(32), nullable=False),
    Column("due_date", Date, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("run_id", Integer),
)

reminder_event = Table(
    "reminder_event", metadata,
    Column("id", Integer, primary_key=True),
    Column("reminder_id", Integer, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("outcome", String(32)),
    Column("reason", String),
    Column("until", Date),
    Column("assignee", String(64)),
    Column("due_by", Date),
    Column("booked_on", Date),
)

# The patient's identity and contact columns only (what `show` and the status history read).
patient = Table(
    "patient", metadata,
    Column("id", Integer, primary_key=True),
    Column("mrn", String(64), nullable=False),
    Column("name", String),
    Column("status", String(16), nullable=False),
    Column("phone", String(32)),
    Column("email", String(254)),
    Column("preferred_contact", String(8)),
    Column("address", String(400)),
    Column("language", String(32)),
)

patient_status_change = Table(
    "patient_status_change", metadata,
    Column("id", Integer, primary_key=True),
    Column("patient_id", Integer, nullable=False),
    Column("from_status", String(16), nullable=False),
    Column("to_status", String(16), nullable=False),
    Column("reason", String, nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
    Column("changed_by", String(64), nullable=False),
    Column("on_behalf_of", String(64)),
)
