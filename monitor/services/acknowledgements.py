"""Flag acknowledgement (PROTOCOL.md "A flag"; INTERFACE.md `monitor flags ack`): the use case.

A clinician acknowledges a flag of a patient (who, when, note). The acknowledgement holds a
fingerprint of what the flag said (severity, evidence and action of every row of that code):
the flag stays in `monitor flags` and `show`, marked acknowledged, and leaves the worklists and
the digest while the fingerprint matches; when new evidence changes the flag it comes back.
Nothing is deleted; a later acknowledgement of the same flag is a new row.
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
from sqlalchemy import Engine, select

from monitor import store
from monitor.config import Config
from monitor.errors import MonitorError, UnknownPatient
from monitor.rules.acknowledgements import ACK_COLUMNS, fingerprints

ACK_TABLE = "flag_acknowledgement"
ACTOR_MAX = 64


class NoSuchFlag(MonitorError):
    """The patient has no such flag on the evaluation date."""


def load_acknowledgements(engine: Engine, *, patient_id: int | None = None, patient_ids=None) -> pd.DataFrame:
    """Every acknowledgement (of one patient, or of `patient_ids`), oldest first; empty on a
    database without the table."""
    from monitor.store.core_tables import flag_acknowledgement as table  # no SQLModel: every command reads this

    query = select(*[table.c[c] for c in ACK_COLUMNS]).order_by(table.c.acknowledged_at, table.c.id)
    if patient_id is not None:
        query = query.where(table.c.patient_id == patient_id)
    if patient_ids is not None:
        query = query.where(table.c.patient_id.in_(sorted(int(p) for p in patient_ids)))
    with store.reading(engine) as conn:
        from sqlalchemy import inspect

        if not inspect(conn).has_table(ACK_TABLE):
            return pd.DataFrame(columns=ACK_COLUMNS)
        rows = [tuple(r) for r in conn.execute(query)]
    return pd.DataFrame(rows, columns=ACK_COLUMNS)


def acknowledge(engine: Engine, mrn: str, code: str, *, note: str, actor: str, on_behalf_of: str | None,
                as_of: date, config: Config, now: datetime) -> pd.DataFrame:
    """Acknowledge the patient's flag `code` as it reads on `as_of`; audited. Returns its rows."""
    from monitor.rules.flags import FLAG_CODES, evaluate_flags
    from monitor.store.tables import FlagAcknowledgement
    from monitor.services.evaluation import patient_history

    note = (note or "").strip()
    if not note:
        raise MonitorError("a note is required: say what was decided (it is kept with the acknowledgement)")
    on_behalf_of = (on_behalf_of or "").strip() or None
    for what, person in (("the user", actor), ("--by", on_behalf_of)):
        if person is not None and len(person) > ACTOR_MAX:
            raise MonitorError(f"{what}: at most {ACTOR_MAX} characters")
    code = code.strip().lower()
    if code not in FLAG_CODES:
        raise NoSuchFlag(f"unknown flag code '{code}' (known: {', '.join(sorted(FLAG_CODES))})")
    cohort = patient_history(engine, mrn)
    if not len(cohort.patients):
        raise UnknownPatient(f"no patient with MRN '{mrn}'")
    flags = evaluate_flags(cohort, as_of=as_of, config=config)
    rows = flags.loc[flags["code"] == code]
    if not len(rows):
        raised = ", ".join(sorted(set(flags["code"].astype(str)))) or "none"
        raise NoSuchFlag(f"{mrn} has no {code} flag on {as_of.isoformat()} (flags raised: {raised})")
    patient_id = int(cohort.patients["patient_id"].iloc[0])
    fingerprint = fingerprints(rows)["fingerprint"].iloc[0]
    with store.transaction(engine) as conn:
        conn.execute(FlagAcknowledgement.__table__.insert(), {
            "patient_id": patient_id, "code": code, "fingerprint": fingerprint, "acknowledged_at": now,
            "acknowledged_by": actor, "on_behalf_of": on_behalf_of, "note": note, "as_of": as_of,
        })
        store.record_event(conn, actor=actor, action="acknowledge_flag", subject=f"patient {mrn}", rows=len(rows),
                           detail={"code": code, "on_behalf_of": on_behalf_of, "note": note,
                                   "as_of": as_of.isoformat(), "fingerprint": fingerprint})
    return rows
