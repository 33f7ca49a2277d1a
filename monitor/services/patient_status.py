"""Staff change a patient's status without a CSV: discharge, reactivate, deceased, transfer.

The patient's `status` holds the current value; every change appends a `patient_status_change`
row (from, to, why, who, on whose behalf, when) and an audit event, in one transaction. Changes
are reversible (`reactivate` makes any patient active again) and never delete history. Only
active patients are due, flagged or reminded: the nightly run closes the open reminders of a
patient who is no longer active ("patient is deceased: surveillance paused").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from monitor import store
from monitor.errors import MonitorError, UnknownPatient
from monitor.services.audit import check_by

# The command's word -> the status it sets.
ACTIONS = {"discharge": "discharged", "reactivate": "active", "deceased": "deceased", "transfer": "transferred"}
REASON_MAX = 1000
PLACE_MAX = 200


class SameStatus(MonitorError):
    """The patient has that status already: nothing to change."""


@dataclass(frozen=True)
class StatusChange:
    """One status change of one patient, as recorded."""

    mrn: str
    name: str | None
    from_status: str
    to_status: str
    reason: str
    changed_at: datetime
    changed_by: str
    on_behalf_of: str | None

    @property
    def who(self) -> str:
        return f"{self.changed_by} for {self.on_behalf_of}" if self.on_behalf_of else self.changed_by


def _text(value: str | None, what: str, limit: int) -> str:
    """A reason or a place: trimmed, not blank, one line of printable text, at most `limit` characters.
    (Errors never echo it: a reason may name the patient.)"""
    value = (value or "").strip()
    if not value:
        ask = "where to" if what == "--to" else "why"
        raise MonitorError(f"{what}: say {ask} (it must not be blank); it is kept with the change and in the "
                           "audit log")
    if not value.isprintable():
        raise MonitorError(f"{what}: one line of text, without line breaks, tabs or control characters")
    if len(value) > limit:
        raise MonitorError(f"{what}: at most {limit} characters, got {len(value)}")
    return value


def transfer_reason(reason: str, to_place: str | None) -> str:
    """The reason a transfer keeps: 'to: Royal Infirmary — moved house', or the reason alone."""
    reason = _text(reason, "--reason", REASON_MAX)
    if to_place is None:
        return reason
    return f"to: {_text(to_place, '--to', PLACE_MAX)} — {reason}"


def change_status(engine: Engine, mrn: str, action: str, *, reason: str, actor: str, now: datetime,
                  on_behalf_of: str | None = None, to_place: str | None = None) -> StatusChange:
    """Set the patient's status for `action` (discharge, reactivate, deceased, transfer); append the
    change and an audit event in one transaction. Changing to the status it has is an error."""
    if action not in ACTIONS:
        raise MonitorError(f"unknown status change '{action}': one of {', '.join(ACTIONS)}")
    if to_place is not None and action != "transfer":
        raise MonitorError("--to is for a transfer only")
    reason = transfer_reason(reason, to_place) if action == "transfer" else _text(reason, "--reason", REASON_MAX)
    on_behalf_of = check_by((on_behalf_of or "").strip() or None)
    if not mrn or len(mrn) > 64:
        raise MonitorError("an MRN is 1 to 64 characters")
    to_status = ACTIONS[action]
    store.require_initialised(engine)
    from monitor.store.tables import Patient, PatientStatusChange

    patient, changes = Patient.__table__, PatientStatusChange.__table__
    with store.transaction(engine) as conn:
        row = conn.execute(select(patient.c.id, patient.c.name, patient.c.status)
                           .where(patient.c.mrn == mrn)).first()
        if row is None:
            raise UnknownPatient(f"no patient with MRN '{mrn}'")
        patient_id, name, from_status = int(row[0]), row[1], row[2]
        if from_status == to_status:
            raise SameStatus(f"{mrn} is {to_status} already; nothing was changed")
        done = conn.execute(patient.update().where(patient.c.id == patient_id, patient.c.status == from_status)
                            .values(status=to_status))
        if done.rowcount != 1:  # someone changed it between our read and our write
            raise MonitorError(f"{mrn}: the status was changed by someone else just now; "
                               "nothing was changed")
        inserted = conn.execute(changes.insert().values(
            patient_id=patient_id, from_status=from_status, to_status=to_status, reason=reason,
            changed_at=now, changed_by=actor, on_behalf_of=on_behalf_of))
        # Who, for whom, why and which patient (by id): the MRN and name stay out of the log.
        store.record_event(conn, actor=actor, action="status_change", subject=f"patient:{patient_id}", rows=1,
                           detail={"from": from_status, "to": to_status, "reason": reason,
                                   "status_change_id": int(inserted.inserted_primary_key[0]),
                                   **({"on_behalf_of": on_behalf_of} if on_behalf_of else {})})
    return StatusChange(mrn, name, from_status, to_status, reason, now, actor, on_behalf_of)


def _label(mrn: str, name: str | None) -> str:
    return f"{mrn} ({name})" if name else mrn


def describe_change(change: StatusChange) -> str:
    """What the command echoes: 'TOH-000072 (Jane Doe): discharged (was active).'"""
    return f"{_label(change.mrn, change.name)}: {change.to_status} (was {change.from_status})."


def status_history(engine: Engine, patient_id: int) -> list[StatusChange]:
    """A patient's status changes made by staff, oldest first."""
    from monitor.store.core_tables import patient, patient_status_change as changes  # no SQLModel: `show` reads this
    query = (select(patient.c.mrn, patient.c.name, changes.c.from_status, changes.c.to_status, changes.c.reason,
                    changes.c.changed_at, changes.c.changed_by, changes.c.on_behalf_of)
             .select_from(changes.join(patient, patient.c.id == changes.c.patient_id))
             .where(changes.c.patient_id == patient_id).order_by(changes.c.changed_at, changes.c.id))
    with store.reading(engine) as conn:
        return [StatusChange(*row) for row in conn.execute(query)]


@dataclass(frozen=True)
class Contact:
    """A patient's contact details as stored (None = not recorded)."""

    phone: str | None
    email: str | None
    preferred_contact: str | None
    address: str | None
    language: str | None

    @property
    def address_lines(self) -> list[str]:
        return [part.strip() for part in (self.address or "").split(";") if part.strip()]


def contact_of(engine: Engine, patient_id: int) -> Contact:
    from monitor.store.core_tables import patient  # no SQLModel: `show` reads this
    with store.reading(engine) as conn:
        row = conn.execute(select(patient.c.phone, patient.c.email, patient.c.preferred_contact, patient.c.address,
                                  patient.c.language).where(patient.c.id == patient_id)).one()
    return Contact(*row)
