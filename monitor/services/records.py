"""Correcting the record: retract a recorded record, or restore it (the use case; no click).

A retracted record stays in its table and in the patient's history, marked with who retracted
it, when and why; `store.read_table` leaves it out of every cohort frame, so no rule sees it.
A record is named by its natural key in the import file's terms (`formats.import_spec.SPECS[kind].key`):
`episodes MRN JOINT SIDE ONSET_DATE`, `scans MRN SCAN_DATE [SITE [SIDE]]` (a date alone names
every site of that scan), ... Codes are accepted in any letter case, as in imports.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Engine, and_, func, or_, select
from sqlalchemy.exc import IntegrityError

from monitor import store
from monitor.errors import MonitorError, UnknownPatient
from monitor.formats.import_spec import COMPLAINTS, JOINTS, SIDES, SITES, SPECS

KINDS = tuple(kind for kind in SPECS if kind != "patients")
TABLE_OF = {kind: SPECS[kind].table for kind in KINDS}
ACTOR_MAX = 64


class BadKey(MonitorError):
    """The KEY given after the MRN is not a key of that kind (a usage error)."""

    exit_code = 2


class NoSuchRecord(MonitorError):
    """No recorded record has that key."""


class AlreadyRetracted(MonitorError):
    """Every record the key names is retracted already."""


class NotRetracted(MonitorError):
    """Restore of a record that counts already."""


@dataclass(frozen=True)
class KeyPart:
    name: str  # the import file's column
    column: str  # the table's column
    kind: str  # date, code, text
    codes: tuple[str, ...] = ()
    optional: bool = False


# Per kind: the parts of the key after the MRN, in the order staff type them.
KEY_PARTS: dict[str, tuple[KeyPart, ...]] = {
    "episodes": (KeyPart("joint", "joint", "code", JOINTS), KeyPart("side", "side", "code", SIDES),
                 KeyPart("onset_date", "onset_date", "date")),
    "scans": (KeyPart("scan_date", "scan_date", "date"), KeyPart("site", "site", "code", SITES, optional=True),
              KeyPart("side", "side", "code", SIDES, optional=True)),
    "mri": (KeyPart("study_date", "study_date", "date"), KeyPart("joint", "joint", "code", JOINTS),
            KeyPart("side", "side", "code", SIDES)),
    "pregnancies": (KeyPart("expected_delivery", "key_on", "date"),),
    "symptoms": (KeyPart("reported_on", "reported_on", "date"), KeyPart("complaint", "complaint", "code", COMPLAINTS),
                 KeyPart("side", "side", "code", SIDES, optional=True)),
    "assessments": (KeyPart("assessed_on", "assessed_on", "date"),),
    "treatments": (KeyPart("drug", "drug", "text"), KeyPart("started_on", "started_on", "date")),
}
EXAMPLE_KEYS = {
    "episodes": "hip left 2024-03-01", "scans": "2024-05-01 total_hip left", "mri": "2024-03-16 hip left",
    "pregnancies": "2024-09-01", "symptoms": "2024-03-12 hip_pain left", "assessments": "2024-03-20",
    "treatments": "alendronate 2024-04-05",
}
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def key_usage(kind: str) -> str:
    """'JOINT SIDE ONSET_DATE', with optional parts in brackets."""
    words = ""
    for part in reversed(KEY_PARTS[kind]):
        name = part.name.upper()
        words = f"[{name}{' ' + words if words else ''}]" if part.optional else f"{name}{' ' + words if words else ''}"
    return words


@dataclass(frozen=True)
class RecordKey:
    """A parsed key: the table columns it fixes (a scan date alone fixes only the date)."""

    kind: str
    mrn: str
    values: dict

    @property
    def text(self) -> str:
        return " ".join(_word(self.values[p.column]) for p in KEY_PARTS[self.kind]
                        if p.column in self.values and self.values[p.column] != "")


def parse_key(kind: str, mrn: str, parts: Sequence[str]) -> RecordKey:
    """Check a KEY in the import file's terms; BadKey says what was expected."""
    if kind not in KINDS:
        raise BadKey(f"unknown kind '{kind}': records are one of {', '.join(KINDS)} (patients are discharged, "
                     "not retracted)")
    if not mrn or len(mrn) > 64:
        raise BadKey("an MRN is 1 to 64 characters")
    spec = KEY_PARTS[kind]
    parts = [p.strip() for p in parts]
    if kind == "treatments" and len(parts) > 2:
        parts = [" ".join(parts[:-1]), parts[-1]]  # a drug name of several words, unquoted
    required = sum(not p.optional for p in spec)
    if not required <= len(parts) <= len(spec) or any(not p for p in parts):
        raise BadKey(f"{kind} take {key_usage(kind)} after the MRN, e.g. {EXAMPLE_KEYS[kind]}; "
                     f"got: {' '.join(parts) or 'nothing'}")
    values: dict = {}
    for part, word in zip(spec, parts):
        if part.kind == "date":
            try:
                if not DATE_RE.match(word):
                    raise ValueError
                values[part.column] = date.fromisoformat(word)
            except ValueError:
                raise BadKey(f"{part.name}: expected a date YYYY-MM-DD, got '{word}'") from None
        elif part.kind == "code":
            code = word.lower()
            if code not in part.codes:
                raise BadKey(f"{part.name}: expected one of {', '.join(part.codes)}, got '{word}'")
            values[part.column] = code
        else:
            values[part.column] = word
    if kind == "scans" and "site" in values:
        if values["site"] == "lumbar_spine":
            if "side" in values:
                raise BadKey("side: the lumbar spine has no side; leave it out")
            values["side"] = ""
        elif "side" not in values:
            raise BadKey(f"side: {values['site']} needs a side: left or right")
    if kind == "symptoms":
        values.setdefault("side", "")  # as a blank side cell in symptoms.csv
    return RecordKey(kind, mrn, values)


@dataclass(frozen=True)
class Change:
    """One record retracted or restored."""

    kind: str
    table: str
    record_id: int
    retraction_id: int
    key_text: str


@dataclass(frozen=True)
class RetractionRow:
    """One retraction of one of a patient's records, with the record's key and values."""

    kind: str
    record_id: int
    key_text: str
    values_text: str
    retracted_at: datetime
    retracted_by: str
    on_behalf_of: str | None
    reason: str
    restored_at: datetime | None
    restored_by: str | None
    restored_on_behalf_of: str | None
    restore_reason: str | None

    @property
    def is_active(self) -> bool:
        return self.restored_at is None


def _tables():
    from monitor.store.tables import SQLModel  # importing the models registers their tables

    return SQLModel.metadata.tables


def _word(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _key_text(kind: str, row) -> str:
    return " ".join(_word(row[p.column]) for p in KEY_PARTS[kind] if row[p.column] not in (None, ""))


def _values_text(kind: str, row) -> str:
    """The record's other values, by their import file names: 'diagnosed_on 2024-03-15, fracture no'."""
    keys = {p.column for p in KEY_PARTS[kind]}
    names = {c.db: c.name for c in SPECS[kind].columns}
    return ", ".join(f"{names[c]} {_word(row[c])}" for c in names
                     if c in row and c not in keys and row[c] is not None and row[c] != "")


def stamp(at: datetime, zone) -> str:
    """A stored UTC moment as a person reads it: '2026-11-25 10:30 +01:00' in the clinic's zone."""
    from monitor.rules.clock_text import local_text

    return local_text(at, zone)


def who(actor: str, on_behalf_of: str | None) -> str:
    """'clerk1 for Dr Lee', or 'clerk1'."""
    return f"{actor} for {on_behalf_of}" if on_behalf_of else actor


def _check_people(reason: str | None, actor: str, on_behalf_of: str | None) -> tuple[str, str | None]:
    reason = (reason or "").strip()
    if not reason:
        raise MonitorError("a reason is required: say why (it is kept with the record and in the audit log)")
    on_behalf_of = (on_behalf_of or "").strip() or None
    for what, who in (("the user", actor), ("--by", on_behalf_of)):
        if who is not None and len(who) > ACTOR_MAX:
            raise MonitorError(f"{what}: at most {ACTOR_MAX} characters")
    return reason, on_behalf_of


def _matches(conn, key: RecordKey):
    """The patient's id and the records the key names, each with its active retraction (or None)."""
    tables = _tables()
    patient = tables["patient"]
    patient_id = conn.execute(select(patient.c.id).where(patient.c.mrn == key.mrn)).scalar()
    if patient_id is None:
        raise UnknownPatient(f"no patient with MRN '{key.mrn}'")
    table, retraction = tables[TABLE_OF[key.kind]], tables[store.RETRACTION_TABLE]
    conditions = [table.c.patient_id == patient_id]
    for column, value in key.values.items():
        if key.kind == "treatments" and column == "drug":
            conditions.append(func.lower(table.c.drug) == value.lower())
        elif key.kind == "pregnancies":
            conditions.append(or_(table.c.key_on == value, table.c.delivered_on == value))
        else:
            conditions.append(table.c[column] == value)
    active = and_(retraction.c.table_name == table.name, retraction.c.record_id == table.c.id,
                  retraction.c.restored_at.is_(None))
    query = (select(table, retraction.c.id.label("retraction_id"), retraction.c.retracted_by.label("r_by"),
                    retraction.c.retracted_at.label("r_at"), retraction.c.reason.label("r_reason"))
             .select_from(table.outerjoin(retraction, active)).where(*conditions))
    rows = [r._mapping for r in conn.execute(query)]
    return patient_id, sorted(rows, key=lambda r: (_key_text(key.kind, r), r["id"]))


def _no_such_record(conn, key: RecordKey, patient_id: int) -> NoSuchRecord:
    table = _tables()[TABLE_OF[key.kind]]
    rows = [r._mapping for r in conn.execute(select(table).where(table.c.patient_id == patient_id))]
    known = sorted({_key_text(key.kind, r) for r in rows})
    if key.kind == "scans":
        known = sorted({r["scan_date"].isoformat() for r in rows})
    shown = ", ".join(known[:10]) + (f", ... ({len(known)} in all)" if len(known) > 10 else "")
    has = f"{key.mrn}'s {key.kind}: {shown}" if known else f"{key.mrn} has no {key.kind}"
    return NoSuchRecord(f"no such record: {key.kind} {key.mrn} {key.text} ({has})")


def retract(engine: Engine, kind: str, mrn: str, key_parts: Sequence[str], *, reason: str, actor: str,
            on_behalf_of: str | None = None, now: datetime, zone: str = "UTC") -> list[Change]:
    """Mark the records the key names retracted (kept; ignored by every rule); audited."""
    key = parse_key(kind, mrn, key_parts)
    reason, on_behalf_of = _check_people(reason, actor, on_behalf_of)
    store.require_initialised(engine)
    retraction = _tables()[store.RETRACTION_TABLE]
    table_name = TABLE_OF[kind]
    try:
        with store.transaction(engine) as conn:
            patient_id, rows = _matches(conn, key)
            if not rows:
                raise _no_such_record(conn, key, patient_id)
            todo = [r for r in rows if r["retraction_id"] is None]
            if not todo:
                first = rows[0]
                raise AlreadyRetracted(f"{kind} {mrn} {key.text} is already retracted (by {first['r_by']} on "
                                       f"{stamp(first['r_at'], zone)}: {first['r_reason']})")
            changes = []
            for r in todo:
                inserted = conn.execute(retraction.insert().values(
                    table_name=table_name, record_id=r["id"], retracted_at=now, retracted_by=actor,
                    on_behalf_of=on_behalf_of, reason=reason))
                changes.append(Change(kind, table_name, int(r["id"]), int(inserted.inserted_primary_key[0]),
                                      _key_text(kind, r)))
            _audit(conn, "retract", changes, actor=actor, on_behalf_of=on_behalf_of, reason=reason)
    except IntegrityError:
        # Another user retracted it between our read and our write (the active-retraction index).
        raise AlreadyRetracted(f"{kind} {mrn} {key.text} was retracted by someone else just now; "
                               "nothing was changed") from None
    return changes


def restore(engine: Engine, kind: str, mrn: str, key_parts: Sequence[str], *, reason: str, actor: str,
            on_behalf_of: str | None = None, now: datetime) -> list[Change]:
    """Undo the active retraction of the records the key names: they count again; audited."""
    key = parse_key(kind, mrn, key_parts)
    reason, on_behalf_of = _check_people(reason, actor, on_behalf_of)
    store.require_initialised(engine)
    retraction = _tables()[store.RETRACTION_TABLE]
    with store.transaction(engine) as conn:
        patient_id, rows = _matches(conn, key)
        if not rows:
            raise _no_such_record(conn, key, patient_id)
        todo = [r for r in rows if r["retraction_id"] is not None]
        if not todo:
            raise NotRetracted(f"{kind} {mrn} {key.text} is not retracted")
        changes = []
        for r in todo:
            done = conn.execute(retraction.update()
                                .where(retraction.c.id == r["retraction_id"], retraction.c.restored_at.is_(None))
                                .values(restored_at=now, restored_by=actor, restored_on_behalf_of=on_behalf_of,
                                        restore_reason=reason))
            if done.rowcount != 1:  # another user restored it between our read and our write
                raise NotRetracted(f"{kind} {mrn} {key.text} was restored by someone else just now; "
                                   "nothing was changed")
            changes.append(Change(kind, TABLE_OF[kind], int(r["id"]), int(r["retraction_id"]), _key_text(kind, r)))
        _audit(conn, "restore", changes, actor=actor, on_behalf_of=on_behalf_of, reason=reason)
    return changes


def _audit(conn, action: str, changes: list[Change], *, actor: str, on_behalf_of: str | None, reason: str) -> None:
    """Who, for whom, why and which records (table and id): no MRN, no key, no clinical value."""
    table = changes[0].table
    store.record_event(conn, actor=actor, action=action,
                       subject=f"{table}:{','.join(str(c.record_id) for c in changes)}", rows=len(changes),
                       detail={"kind": changes[0].kind, "on_behalf_of": on_behalf_of, "reason": reason,
                               "records": [{"table": c.table, "record_id": c.record_id,
                                            "retraction_id": c.retraction_id} for c in changes]})


def patient_retractions(engine: Engine, mrn: str, *, active_only: bool = False) -> list[RetractionRow]:
    """Every retraction of the patient's records (or those in force), oldest first: one query per table."""
    store.require_initialised(engine)
    tables = _tables()
    patient, retraction = tables["patient"], tables[store.RETRACTION_TABLE]
    out = []
    with store.reading(engine) as conn:
        patient_id = conn.execute(select(patient.c.id).where(patient.c.mrn == mrn)).scalar()
        if patient_id is None:
            raise UnknownPatient(f"no patient with MRN '{mrn}'")
        for kind in KINDS:
            table = tables[TABLE_OF[kind]]
            query = (select(table, *[c.label(f"r_{c.name}") for c in retraction.c])
                     .select_from(table.join(retraction, and_(retraction.c.table_name == table.name,
                                                              retraction.c.record_id == table.c.id)))
                     .where(table.c.patient_id == patient_id))
            if active_only:
                query = query.where(retraction.c.restored_at.is_(None))
            for r in conn.execute(query):
                m = r._mapping
                out.append((m["r_id"], RetractionRow(
                    kind, int(m["id"]), _key_text(kind, m), _values_text(kind, m), m["r_retracted_at"],
                    m["r_retracted_by"], m["r_on_behalf_of"], m["r_reason"], m["r_restored_at"], m["r_restored_by"],
                    m["r_restored_on_behalf_of"], m["r_restore_reason"])))
    return [row for _, row in sorted(out, key=lambda pair: pair[0])]
