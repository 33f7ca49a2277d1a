"""Staff status changes on a real database: the nightly run never reminds a patient who died or left."""

from dataclasses import replace
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import text

from monitor.config import STAFF_RISK_FACTORS, Config
from monitor.errors import MonitorError, UnknownPatient
from monitor.jobs.nightly import NIGHTLY, run_job
from monitor.services.importing import import_files
from monitor.services.patient_status import SameStatus, change_status, status_history
from tests.conftest import write_csv
from tests.integration.test_nightly import EPISODES, PATIENTS, SCANS

NOW = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)


@pytest.fixture
def clinic(engine, tmp_path):
    files = [write_csv(tmp_path / f"{k}.csv", v) for k, v in
             (("patients", PATIENTS), ("episodes", EPISODES), ("scans", SCANS))]
    import_files(engine, files, today=date(2026, 11, 25), actor="t", risk_codes=STAFF_RISK_FACTORS)
    config = replace(Config(), jobs=replace(Config().jobs, outbox=str(tmp_path / "outbox")))
    return engine, config


def nightly(engine, config, day):
    d = date.fromisoformat(day)
    return run_job(engine, NIGHTLY, slot_on=d, as_of=d, config=config,
                   now_utc=datetime(d.year, d.month, d.day, 4, tzinfo=timezone.utc), trigger="manual", actor="t")


def reminder_events(engine, mrn):
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT e.kind, e.reason FROM reminder_event e JOIN reminder r ON r.id = e.reminder_id "
            "JOIN patient p ON p.id = r.patient_id WHERE p.mrn = :mrn ORDER BY e.id"), {"mrn": mrn})]


def test_the_next_nightly_run_closes_a_deceased_patients_reminder(clinic, tmp_path):
    """A family must never get a recall letter for someone who died: the open reminder is closed."""
    engine, config = clinic
    assert nightly(engine, config, "2026-06-01").counts["new"] == 2  # P1 and P2 overdue
    change_status(engine, "P1", "deceased", reason="notified by the GP", actor="clerk1", now=NOW)
    result = nightly(engine, config, "2026-06-02")
    assert result.counts["closed"] == 1 and result.counts["new"] == 0
    assert reminder_events(engine, "P1")[-1] == ("closed", "patient is deceased: surveillance paused")
    worklist = (tmp_path / "outbox" / "worklist-2026-06-02.csv").read_text(encoding="utf-8-sig")
    assert "P1" not in worklist and "P2" in worklist
    # Nights later, still nothing new for them.
    assert nightly(engine, config, "2026-06-03").counts["new"] == 0
    assert [k for k, _ in reminder_events(engine, "P1")].count("created") == 1


def test_reactivation_brings_the_patient_back_to_the_nightly_run(clinic):
    """Reversible: a patient discharged by mistake is reminded again once active."""
    engine, config = clinic
    change_status(engine, "P1", "discharge", reason="by mistake", actor="clerk1", now=NOW)
    assert nightly(engine, config, "2026-06-01").counts["new"] == 1  # P2 only
    change_status(engine, "P1", "reactivate", reason="the wrong patient was discharged", actor="clerk1", now=NOW)
    assert nightly(engine, config, "2026-06-02").counts["new"] == 1  # P1 now
    assert [(c.from_status, c.to_status) for c in status_history(engine, _pid(engine, "P1"))] == [
        ("active", "discharged"), ("discharged", "active")]


def test_refusals_write_nothing(clinic):
    """Unknown MRN, same status, a --to on a discharge: refused before anything is written."""
    engine, _ = clinic
    with pytest.raises(UnknownPatient, match="no patient with MRN 'P9'"):
        change_status(engine, "P9", "discharge", reason="x", actor="a", now=NOW)
    with pytest.raises(SameStatus):
        change_status(engine, "P1", "reactivate", reason="x", actor="a", now=NOW)
    with pytest.raises(MonitorError, match="--to is for a transfer only"):
        change_status(engine, "P1", "discharge", reason="x", actor="a", now=NOW, to_place="Elsewhere")
    with pytest.raises(MonitorError, match="--by: at most 64 characters"):
        change_status(engine, "P1", "discharge", reason="x", actor="a", now=NOW, on_behalf_of="x" * 65)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM patient_status_change")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM audit_event WHERE action = 'status_change'")).scalar() == 0


def _pid(engine, mrn):
    with engine.connect() as conn:
        return conn.execute(text("SELECT id FROM patient WHERE mrn = :m"), {"m": mrn}).scalar()


def test_a_patient_who_died_leaves_the_worklist_at_once_and_cannot_be_worked(clinic):
    """Between the status change and the next night, no clerk may call a deceased patient's family."""
    from monitor.services.reminders import act, list_reminders

    engine, config = clinic
    nightly(engine, config, "2026-06-01")
    change_status(engine, "P1", "deceased", reason="notified by the GP", actor="clerk1", now=NOW)
    listed = list_reminders(engine, as_of=date(2026, 6, 1), config=config)
    assert "P1" not in set(listed["mrn"]) and "P2" in set(listed["mrn"])
    opened = list_reminders(engine, as_of=date(2026, 6, 1), config=config, states=("open",))
    assert "P1" not in set(opened["mrn"])
    with pytest.raises(MonitorError, match="P1 is deceased: surveillance is paused"):
        act(engine, "P1", kind="outreach", outcome="contacted", actor="clerk1", today=date(2026, 6, 1), config=config)
    # Closing stays possible, and --all still shows the record.
    assert act(engine, "P1", kind="closed", reason="patient died", actor="clerk1", today=date(2026, 6, 1),
               config=config).state == "closed"
    everything = list_reminders(engine, as_of=date(2026, 6, 1), config=config, states=())
    assert "P1" in set(everything["mrn"])
