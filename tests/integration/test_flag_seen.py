"""The nightly run records the night it first saw each warn/urgent flag (the review list's age)
and its digest lists the new urgent ones; the outbox lands beside the database."""

from dataclasses import replace
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import text

from monitor.config import STAFF_RISK_FACTORS, Config
from monitor.jobs.nightly import NIGHTLY, run_job
from monitor.services.importing import import_files
from monitor.services.review import review_db
from tests.conftest import write_csv

PATIENTS = """mrn,name,sex,birth_date,status
P1,Pat One,F,1990-01-01,active
P2,Pat Two,M,1970-01-01,active
"""
EPISODES = """mrn,joint,side,onset_date,diagnosed_on,pregnancy_associated
P1,hip,left,2026-03-01,2026-03-10,yes
P2,hip,right,2025-01-01,2025-01-10,no
"""
SCANS = """mrn,scan_date,site,side,bmd
P2,2025-02-01,total_hip,right,0.8
"""


@pytest.fixture
def clinic(engine, tmp_path):
    files = [write_csv(tmp_path / f"{k}.csv", v) for k, v in
             (("patients", PATIENTS), ("episodes", EPISODES), ("scans", SCANS))]
    import_files(engine, files, today=date(2026, 6, 1), actor="t", risk_codes=STAFF_RISK_FACTORS)
    return engine, replace(Config(), jobs=replace(Config().jobs, outbox=str(tmp_path / "outbox")))


def nightly(engine, config, day, **kw):
    d = date.fromisoformat(day)
    return run_job(engine, NIGHTLY, slot_on=d, as_of=d, config=config,
                   now_utc=datetime(d.year, d.month, d.day, 4, tzinfo=timezone.utc), trigger="manual", actor="t", **kw)


def seen(engine):
    with engine.connect() as conn:
        return sorted((m, c, s, str(d)[:10]) for m, c, s, d in conn.execute(text(
            "SELECT p.mrn, s.code, s.severity, s.first_seen_on FROM flag_seen s JOIN patient p ON p.id = s.patient_id")))


def test_flag_seen_is_recorded_once_across_reruns_and_later_nights(clinic):
    """The age of a flag on the review list is the night it first appeared: reruns and later nights keep it."""
    engine, config = clinic
    assert nightly(engine, config, "2026-06-01", dry_run=True).outcome == "dry-run"
    assert seen(engine) == []  # a dry run writes nothing
    first = nightly(engine, config, "2026-06-01")
    rows = seen(engine)
    assert ("P1", "pregnancy_toh_fracture_risk", "urgent", "2026-06-01") in rows
    assert {r[2] for r in rows} <= {"warn", "urgent"} and first.counts["flags_first_seen"] == len(rows)
    again = nightly(engine, config, "2026-06-01", again=True)
    later = nightly(engine, config, "2026-06-02")
    assert seen(engine) == rows and again.counts["flags_first_seen"] == 0 == later.counts["flags_first_seen"]
    review = review_db(engine, as_of=date(2026, 6, 3), config=config)
    p1 = review.loc[review["code"] == "pregnancy_toh_fracture_risk"].iloc[0]
    assert p1["mrn"] == "P1" and p1["days_open"] == 2 and p1["seen_by_run"]


def test_digest_lists_new_urgent_flags_and_the_review_count(clinic, tmp_path):
    """The clinician learns of a new urgent flag the morning after it appears, by MRN and code, never by name."""
    engine, config = clinic
    nightly(engine, config, "2026-06-01")
    digest = (tmp_path / "outbox" / "digest-2026-06-01.txt").read_text(encoding="utf-8")
    assert "New urgent flags tonight, not acknowledged (1):\n  P1  pregnancy_toh_fracture_risk: " in digest
    assert "Flags waiting for a clinician's review: " in digest and "monitor flags review" in digest
    assert "Pat One" not in digest
    nightly(engine, config, "2026-06-02")
    assert "New urgent flags tonight" not in (tmp_path / "outbox" / "digest-2026-06-02.txt").read_text(encoding="utf-8")


def test_outbox_defaults_beside_the_sqlite_database_and_postgresql_must_set_it(engine, tmp_path, monkeypatch):
    """The outbox holds patient lists: it never lands in whatever folder the command ran in."""
    from monitor.errors import MonitorError
    from monitor.jobs.delivery import outbox_path
    from monitor.store import sqlite_path

    monkeypatch.chdir(tmp_path)
    if engine.dialect.name == "sqlite":
        assert outbox_path(Config(), engine) == sqlite_path(engine).resolve().parent / "outbox"
    else:
        with pytest.raises(MonitorError, match=r"set `outbox = .*` in the \[jobs\] section"):
            outbox_path(Config(), engine)
        with pytest.raises(MonitorError, match="outbox"):
            nightly(engine, Config(), "2026-06-01")
    assert outbox_path(replace(Config(), jobs=replace(Config().jobs, outbox="/srv/x")), engine).as_posix() == "/srv/x"
