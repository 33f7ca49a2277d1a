"""Flag acknowledgement (PROTOCOL.md "A flag"; INTERFACE.md `monitor flags ack`): the use case.

A clinician acknowledges a flag of a patient (who, when, note). The acknowledgement holds a
fingerprint of what the flag said (severity, evidence and action of every row of that code):
the flag stays in `monitor flags` and `show`, marked acknowledged, and leaves the worklists and
the digest while the fingerprint matches; when new evidence changes the flag it comes back.
Nothing is deleted; a later acknowledgement of the same flag is a new row.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime

import pandas as pd
from sqlalchemy import Engine, select

from monitor import store
from monitor.config import Config
from monitor.errors import MonitorError, UnknownPatient

ACK_TABLE = "flag_acknowledgement"
ACK_COLUMNS = ["patient_id", "code", "fingerprint", "acknowledged_at", "acknowledged_by", "on_behalf_of", "note"]
ACTOR_MAX = 64


class NoSuchFlag(MonitorError):
    """The patient has no such flag on the evaluation date."""


def fingerprints(flags: pd.DataFrame) -> pd.DataFrame:
    """Per patient and code: a fingerprint of what the flag says (all its rows, in their order).

    Only the flags given are hashed (callers pass the few patients with acknowledgements)."""
    if not len(flags):
        return pd.DataFrame(columns=["patient_id", "code", "fingerprint"])
    text = (flags["severity"].astype(str) + "\x1f" + flags["evidence"].astype(str) + "\x1f"
            + flags["action"].astype(str))
    frame = pd.DataFrame({"patient_id": flags["patient_id"].to_numpy(), "code": flags["code"].astype(str).to_numpy(),
                          "text": text.to_numpy()})
    joined = frame.groupby(["patient_id", "code"], sort=True)["text"].agg("\x1e".join)
    out = joined.map(lambda t: hashlib.sha256(t.encode("utf-8")).hexdigest()).rename("fingerprint")
    return out.reset_index()


def mark_acknowledged(flags: pd.DataFrame, acks: pd.DataFrame) -> pd.DataFrame:
    """The flags with `acknowledged_by`, `acknowledged_at` (UTC datetime) and `acknowledged_note`
    filled where the latest acknowledgement of that patient and code matches what the flag says."""
    out = flags.assign(acknowledged_by="", acknowledged_note="",
                       acknowledged_at=pd.Series(pd.NaT, index=flags.index, dtype="datetime64[us, UTC]"))
    if not len(acks) or not len(flags):
        return out
    latest = acks.sort_values("acknowledged_at").drop_duplicates(["patient_id", "code"], keep="last")
    mine = flags.loc[flags["patient_id"].isin(latest["patient_id"])]
    now = fingerprints(mine).merge(latest, on=["patient_id", "code"], suffixes=("", "_ack"))
    now = now.loc[now["fingerprint"] == now["fingerprint_ack"]]
    if not len(now):
        return out
    who = (now["acknowledged_by"] + pd.Series(["" if pd.isna(o) or not o else f" for {o}" for o in now["on_behalf_of"]],
                                              index=now.index))
    keys = pd.MultiIndex.from_frame(out[["patient_id", "code"]].astype({"code": str}))
    index = pd.MultiIndex.from_frame(now[["patient_id", "code"]])
    hit = keys.isin(index)
    pos = index.get_indexer(keys[hit])
    out.loc[hit, "acknowledged_by"] = who.to_numpy()[pos]
    out.loc[hit, "acknowledged_at"] = pd.to_datetime(now["acknowledged_at"], utc=True).to_numpy()[pos]
    out.loc[hit, "acknowledged_note"] = now["note"].to_numpy()[pos]
    return out


def unacknowledged(flags: pd.DataFrame) -> pd.DataFrame:
    """The flags the worklists and the digest show: not (currently) acknowledged."""
    if "acknowledged_by" not in flags:
        return flags
    return flags.loc[flags["acknowledged_by"] == ""]


def load_acknowledgements(engine: Engine, *, patient_id: int | None = None) -> pd.DataFrame:
    """Every acknowledgement (of one patient), oldest first; empty on a database without the table."""
    from monitor.models import FlagAcknowledgement

    table = FlagAcknowledgement.__table__
    query = select(*[table.c[c] for c in ACK_COLUMNS]).order_by(table.c.acknowledged_at, table.c.id)
    if patient_id is not None:
        query = query.where(table.c.patient_id == patient_id)
    with store.reading(engine) as conn:
        from sqlalchemy import inspect

        if not inspect(conn).has_table(ACK_TABLE):
            return pd.DataFrame(columns=ACK_COLUMNS)
        rows = [tuple(r) for r in conn.execute(query)]
    return pd.DataFrame(rows, columns=ACK_COLUMNS)


def acknowledge(engine: Engine, mrn: str, code: str, *, note: str, actor: str, on_behalf_of: str | None,
                as_of: date, config: Config, now: datetime) -> pd.DataFrame:
    """Acknowledge the patient's flag `code` as it reads on `as_of`; audited. Returns its rows."""
    from monitor.flags import FLAG_CODES, evaluate_flags
    from monitor.models import FlagAcknowledgement
    from monitor.services import patient_history

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
