"""The SQLModel-free Core tables (store/core_tables.py) stay the same tables as store/tables.py."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import DateTime, Integer, String, select

from monitor.store import core_tables

TABLES = [core_tables.audit_event, core_tables.flag_acknowledgement, core_tables.flag_seen, core_tables.job_completion,
          core_tables.job_run, core_tables.patient, core_tables.patient_status_change, core_tables.reminder,
          core_tables.reminder_event]


@pytest.mark.parametrize("core", TABLES, ids=lambda t: t.name)
def test_every_core_column_is_the_model_column(core):
    """Same name, type, length and nullability: a value read or written through either is the same value."""
    from monitor.store.tables import Patient

    model = Patient.__table__.metadata.tables[core.name]
    for column in core.columns:
        assert column.name in model.c, f"{core.name}.{column.name} is not in store/tables.py"
        other = model.c[column.name]
        assert column.nullable == other.nullable, f"{core.name}.{column.name}: nullability differs"
        assert column.primary_key == other.primary_key
        for kind in (Integer, String, DateTime):
            mine = isinstance(column.type, kind) or isinstance(getattr(column.type, "impl", None), kind)
            theirs = isinstance(other.type, kind) or isinstance(getattr(other.type, "impl", None), kind)
            assert mine == theirs, f"{core.name}.{column.name}: {column.type!r} vs {other.type!r}"
        if isinstance(column.type, String):
            assert column.type.length == other.type.length, f"{core.name}.{column.name}: length differs"
        if isinstance(getattr(other.type, "impl", None), DateTime):
            assert isinstance(column.type, core_tables.UTCDateTime), f"{core.name}.{column.name}: not UTC"


def test_core_timestamps_round_trip_with_the_models(engine):
    """A timestamp written through the model reads back aware UTC through the Core table, and the other way."""
    from monitor.store import tables, transaction

    at = datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=timezone.utc)
    with transaction(engine) as conn:
        conn.execute(tables.AuditEvent.__table__.insert(), {"at": at, "actor": "a", "action": "model", "subject": "",
                                                            "rows": 0, "detail": "{}"})
        conn.execute(core_tables.audit_event.insert(), {"at": at, "actor": "a", "action": "core", "subject": "",
                                                        "rows": 0, "detail": "{}"})
    model, core = tables.AuditEvent.__table__, core_tables.audit_event
    with engine.connect() as conn:
        via_core = conn.execute(select(core.c.action, core.c.at).order_by(core.c.id)).all()
        via_model = conn.execute(select(model.c.action, model.c.at).order_by(model.c.id)).all()
        raw = {r[0]: r[1] for r in conn.exec_driver_sql("SELECT action, CAST(at AS TEXT) FROM audit_event")}
    assert [tuple(r) for r in via_core] == [("model", at), ("core", at)]
    assert via_core == via_model
    assert raw["model"] == raw["core"]  # stored the same way, byte for byte


def test_core_acknowledgement_columns_read_what_the_model_wrote(engine):
    """An acknowledgement written through the model reads back the same through the Core table."""
    from monitor.services.acknowledgements import load_acknowledgements
    from monitor.store import tables, transaction

    at = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
    with transaction(engine) as conn:
        pid = conn.execute(tables.Patient.__table__.insert(), {
            "mrn": "TOH-1", "sex": "F", "birth_date": date(1980, 1, 1), "status": "active", "risk_factors": ""
        }).inserted_primary_key[0]
        conn.execute(tables.FlagAcknowledgement.__table__.insert(), {
            "patient_id": pid, "code": "c", "fingerprint": "f", "as_of": date(2026, 11, 20), "acknowledged_at": at,
            "acknowledged_by": "dr", "on_behalf_of": None, "note": "seen"})
    acks = load_acknowledgements(engine, patient_id=pid)
    assert acks.to_dict("records") == [{"patient_id": pid, "code": "c", "fingerprint": "f", "acknowledged_at": at,
                                        "acknowledged_by": "dr", "on_behalf_of": None, "note": "seen"}]
