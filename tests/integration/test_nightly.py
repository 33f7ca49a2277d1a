"""The nightly job on a real database: idempotent reminders, catch-up, deferral, closing, delivery."""

import socketserver
import threading
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from monitor.config import STAFF_RISK_FACTORS, Config
from monitor.services.importing import import_files
from monitor.jobs.daemon import serve_due
from monitor.jobs.nightly import NIGHTLY, run_job
from monitor.services.reminders import act, history, list_reminders
from tests.conftest import write_csv

PATIENTS = """mrn,name,sex,birth_date,status
P1,Pat One,M,1970-01-01,active
P2,Pat Two,F,1980-01-01,active
P3,Pat Three,M,1975-01-01,active
"""
EPISODES = """mrn,joint,side,onset_date,diagnosed_on,resolved_on
P1,hip,left,2020-01-01,2020-01-10,2020-08-01
P2,hip,right,2021-01-01,2021-01-10,2021-08-01
P3,hip,left,2024-01-01,2024-01-10,2024-08-01
"""
SCANS = """mrn,scan_date,site,side,bmd
P1,2020-02-01,total_hip,left,0.8
P1,2020-02-01,total_hip,right,0.9
P2,2023-06-01,total_hip,left,0.8
P2,2023-06-01,total_hip,right,0.9
P3,2025-06-01,total_hip,left,0.8
P3,2025-06-01,total_hip,right,0.9
"""


@pytest.fixture
def clinic(engine, tmp_path):
    files = [write_csv(tmp_path / f"{k}.csv", v) for k, v in
             (("patients", PATIENTS), ("episodes", EPISODES), ("scans", SCANS))]
    import_files(engine, files, today=date(2026, 11, 25), actor="t", risk_codes=STAFF_RISK_FACTORS)
    config = replace(Config(), jobs=replace(Config().jobs, outbox=str(tmp_path / "outbox")))
    return engine, config


def nightly(engine, config, day, **kw):
    d = date.fromisoformat(day)
    return run_job(engine, NIGHTLY, slot_on=d, as_of=d, config=config,
                   now_utc=datetime(d.year, d.month, d.day, 4, tzinfo=timezone.utc), trigger="manual", actor="t", **kw)


def record(engine, rid, **kw) -> str:
    """A staff action on reminder `rid` (named as `id:N`); its new state."""
    return act(engine, f"id:{rid}", config=Config(), **kw).state


def kinds(engine, rid) -> list[str]:
    return [e["event"] for e in history(engine, f"id:{rid}", config=Config())[0].rows]


def count(engine, table, where=""):
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table} {where}")).scalar()


def open_ids(engine, config, day):
    table = list_reminders(engine, as_of=date.fromisoformat(day), config=config, states=("open",))
    return dict(zip(table["mrn"], table["reminder_id"]))


def test_two_runs_on_one_day_make_no_new_reminders(clinic):
    """A rerun, or a double run, can never create a second reminder."""
    engine, config = clinic
    first = nightly(engine, config, "2026-06-01")
    assert first.outcome == "ok" and first.counts["new"] == 2  # P1 and P2 overdue; P3 not due
    assert nightly(engine, config, "2026-06-01").outcome == "skipped"
    again = nightly(engine, config, "2026-06-01", again=True)
    assert again.outcome == "ok" and again.counts["new"] == 0
    assert count(engine, "reminder") == 2
    assert count(engine, "job_completion") == 1 and count(engine, "job_run") == 2
    nxt = nightly(engine, config, "2026-06-02")
    assert nxt.counts["new"] == 0 and count(engine, "reminder") == 2


def test_worklist_and_digest_land_in_the_outbox(clinic, tmp_path):
    """Each night's worklist CSV and digest, owner-only; the digest names no patient."""
    engine, config = clinic
    result = nightly(engine, config, "2026-06-01")
    csv_file = tmp_path / "outbox" / "worklist-2026-06-01.csv"
    digest = tmp_path / "outbox" / "digest-2026-06-01.txt"
    assert sorted(result.files) == sorted([str(csv_file), str(digest)])
    assert csv_file.stat().st_mode & 0o777 == 0o600 and digest.stat().st_mode & 0o777 == 0o600
    assert csv_file.read_text(encoding="utf-8-sig").splitlines()[0] == ("reminder_id,mrn,name,item,due_date,status,days_overdue,state,"
                                                    "last_outreach,interval_months,risk_factors,flags,"
                                                    "assigned_to,due_by,deferred_until,deferred_reason")
    text_ = digest.read_text()
    assert "Open DXA reminders: 2 (2 overdue)" in text_ and "Pat One" not in text_


def test_three_days_of_downtime_give_one_catch_up_run(clinic):
    """After downtime the missed run happens once, as of today, not once per missed night."""
    engine, config = clinic
    start = datetime(2026, 6, 1, 5, tzinfo=timezone.utc)
    assert serve_due(engine, NIGHTLY, config=config, now_utc=start, trigger="schedule", actor="d").outcome == "ok"
    back = start + timedelta(days=3, hours=6)  # down for three nights
    result = serve_due(engine, NIGHTLY, config=config, now_utc=back, trigger="catch-up", actor="d")
    assert (result.outcome, result.slot_on, result.as_of) == ("ok", date(2026, 6, 4), date(2026, 6, 4))
    assert serve_due(engine, NIGHTLY, config=config, now_utc=back + timedelta(minutes=1), trigger="schedule",
                     actor="d").outcome == "skipped"
    with engine.connect() as conn:
        slots = [str(r[0])[:10] for r in conn.execute(text("SELECT slot_on FROM job_completion ORDER BY slot_on"))]
    assert slots == ["2026-06-01", "2026-06-04"]


def test_dst_double_fire_runs_once(clinic):
    """Two fires at the two 02:30s of the autumn night serve one slot: the second is a no-op."""
    engine, config = clinic
    zone = ZoneInfo("Europe/Berlin")
    config = replace(config, timezone="Europe/Berlin", jobs=replace(config.jobs, nightly_time="02:30"))
    first = datetime(2026, 10, 25, 2, 30, tzinfo=zone, fold=0).astimezone(timezone.utc)
    second = datetime(2026, 10, 25, 2, 30, tzinfo=zone, fold=1).astimezone(timezone.utc)
    outcomes = [serve_due(engine, NIGHTLY, config=config, now_utc=t, trigger="schedule", actor="d").outcome
                for t in (first, second)]
    assert outcomes == ["ok", "skipped"] and count(engine, "job_run") == 1


def test_deferred_item_reopens_on_its_date(clinic):
    """Deferred until a date: hidden from the worklist until then, reopened by the nightly run."""
    engine, config = clinic
    nightly(engine, config, "2026-06-01")
    rid = open_ids(engine, config, "2026-06-01")["P1"]
    record(engine, rid, kind="deferred", actor="nurse", today=date(2026, 6, 1), reason="abroad",
           until=date(2026, 6, 10))
    assert "P1" not in open_ids(engine, config, "2026-06-02")
    assert nightly(engine, config, "2026-06-09").counts["reopened"] == 0
    assert nightly(engine, config, "2026-06-10").counts["reopened"] == 1
    assert open_ids(engine, config, "2026-06-10")["P1"] == rid
    assert kinds(engine, rid) == ["created", "sent", "deferred", "reopened"]


def test_closed_item_stays_closed_until_a_new_cycle(clinic, tmp_path):
    """Closed stays closed across nights; a scan recorded later starts a new due cycle."""
    engine, config = clinic
    nightly(engine, config, "2026-06-01")
    rid = open_ids(engine, config, "2026-06-01")["P1"]
    record(engine, rid, kind="outreach", actor="nurse", today=date(2026, 6, 1), outcome="declined")
    record(engine, rid, kind="closed", actor="nurse", today=date(2026, 6, 1), reason="declined for now")
    for day in ("2026-06-02", "2026-06-03"):
        assert nightly(engine, config, day).counts["new"] == 0
    assert "P1" not in open_ids(engine, config, "2026-06-03")
    write_csv(tmp_path / "scans.csv", "mrn,scan_date,site,side,bmd\nP1,2026-06-05,total_hip,left,0.8\n"
                                      "P1,2026-06-05,total_hip,right,0.9\n")
    import_files(engine, [tmp_path / "scans.csv"], today=date(2026, 11, 25), actor="t", risk_codes=STAFF_RISK_FACTORS)
    # Two years on, the new cycle gets a new reminder; the old one and its history are still there.
    assert nightly(engine, config, "2028-06-06").counts["new"] >= 1
    assert open_ids(engine, config, "2028-06-06")["P1"] != rid
    assert kinds(engine, rid) == ["created", "sent", "outreach", "closed"]


def test_scan_recorded_closes_the_open_reminder_and_keeps_its_outreach(clinic, tmp_path):
    """An appointment kept does not delete the outreach log: the reminder is closed, with why."""
    engine, config = clinic
    nightly(engine, config, "2026-06-01")
    rid = open_ids(engine, config, "2026-06-01")["P1"]
    record(engine, rid, kind="outreach", actor="nurse", today=date(2026, 6, 1), outcome="booked", reason="DXA 5 June",
           booked_on=date(2026, 6, 5))
    write_csv(tmp_path / "scans.csv", "mrn,scan_date,site,side,bmd\nP1,2026-06-05,total_hip,left,0.8\n"
                                      "P1,2026-06-05,total_hip,right,0.9\n")
    import_files(engine, [tmp_path / "scans.csv"], today=date(2026, 11, 25), actor="t", risk_codes=STAFF_RISK_FACTORS)
    assert nightly(engine, config, "2026-06-06").counts["closed"] == 1
    h = history(engine, f"id:{rid}", config=config)[0].rows
    assert [e["event"] for e in h] == ["created", "sent", "outreach", "closed"]
    assert h[2]["detail"] == "for 2026-06-05"
    assert h[-1]["note"] == "next scan now due 2028-06-05 (last scan 2026-06-05)"


def test_staff_actions_are_checked(clinic):
    """Bad actions are refused with a reason; closed items must be reopened first."""
    from monitor.errors import MonitorError

    engine, config = clinic
    nightly(engine, config, "2026-06-01")
    rid = open_ids(engine, config, "2026-06-01")["P1"]
    today = date(2026, 6, 1)
    with pytest.raises(MonitorError, match="--until must be a date after today"):
        record(engine, rid, kind="deferred", actor="n", today=today, reason="x", until=today)
    with pytest.raises(MonitorError, match="no reminder with id 999"):
        record(engine, 999, kind="closed", actor="n", today=today, reason="x")
    record(engine, rid, kind="closed", actor="n", today=today, reason="x")
    with pytest.raises(MonitorError, match="is closed; reopen it first"):
        record(engine, rid, kind="outreach", actor="n", today=today, outcome="booked", booked_on=today)
    assert record(engine, rid, kind="reopened", actor="n", today=today, reason="mistake") == "open"


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP to receive one message (the test's local server)."""

    def handle(self):
        self.wfile.write(b"220 test ESMTP\r\n")
        data_mode, lines = False, []
        for raw in self.rfile:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if data_mode:
                if line == ".":
                    data_mode = False
                    self.server.messages.append("\n".join(lines))
                    self.wfile.write(b"250 OK\r\n")
                else:
                    lines.append(line)
                continue
            cmd = line.split(" ")[0].upper()
            if cmd in ("EHLO", "HELO"):
                self.wfile.write(b"250 test\r\n")
            elif cmd == "DATA":
                data_mode = True
                self.wfile.write(b"354 go\r\n")
            elif cmd == "QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 OK\r\n")


def test_digest_is_mailed_to_staff(clinic):
    """With SMTP configured, the digest reaches the clinic's staff address."""
    engine, config = clinic
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTPHandler)
    server.messages = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = replace(config, jobs=replace(config.jobs, smtp_host="127.0.0.1", smtp_port=server.server_address[1],
                                              smtp_to="bone-clinic@example.org"))
        result = nightly(engine, config, "2026-06-01")
    finally:
        server.shutdown()
        server.server_close()
    assert result.message == "digest mailed to bone-clinic@example.org"
    assert len(server.messages) == 1
    msg = server.messages[0]
    assert "Subject: toh-monitor worklist 2026-06-01" in msg and "Open DXA reminders: 2" in msg
    assert "Pat One" not in msg


def test_a_failed_run_is_recorded_and_the_next_fire_retries(clinic, tmp_path):
    """A failing job leaves no half-written reminders, is recorded as failed, and is retried."""
    engine, config = clinic
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    broken = replace(config, jobs=replace(config.jobs, outbox=str(blocker / "outbox")))
    with pytest.raises(OSError):
        nightly(engine, broken, "2026-06-01")
    assert count(engine, "reminder") == 0 and count(engine, "job_completion") == 0
    with engine.connect() as conn:
        outcome, error = conn.execute(text("SELECT outcome, error FROM job_run")).one()
    assert outcome == "failed" and "not-a-folder" in error
    assert nightly(engine, config, "2026-06-01").outcome == "ok"
    assert count(engine, "job_completion") == 1


def test_daemon_job_entry_survives_a_failure(clinic, tmp_path, caplog):
    """The scheduler's job function logs a failure and returns: the daemon keeps running."""
    from monitor.jobs.daemon import _job_entry

    engine, config = clinic
    blocker = tmp_path / "file"
    blocker.write_text("x")
    broken = replace(config, jobs=replace(config.jobs, outbox=str(blocker / "outbox")))
    _job_entry(engine, NIGHTLY, broken, "daemon", {})  # must not raise
    assert "nightly failed; the next fire will try again" in caplog.text


def test_a_run_for_a_past_day_never_closes_what_a_later_run_opened(clinic):
    """`run nightly --as-of` an old date once closed current reminders for good: a patient 987
    days overdue vanished from the worklist."""
    engine, config = clinic
    nightly(engine, config, "2026-06-01")
    rid = open_ids(engine, config, "2026-06-01")["P1"]
    # On 2020-01-05 P1's scan of 2020-02-01 was not yet taken: that day's due date differs.
    assert nightly(engine, config, "2020-01-05").counts["closed"] == 0
    assert nightly(engine, config, "2026-06-02").counts["new"] == 0
    assert open_ids(engine, config, "2026-06-02")["P1"] == rid
    assert kinds(engine, rid) == ["created", "sent"]


def test_a_dry_run_writes_nothing(clinic, tmp_path):
    """A dry run, for any date, shows what a run would do and leaves no trace."""
    engine, config = clinic
    before = {t: count(engine, t) for t in ("reminder", "reminder_event", "job_run", "job_completion")}
    result = nightly(engine, config, "2030-01-01", dry_run=True)
    assert result.outcome == "dry-run" and result.counts["new"] == 3
    assert {t: count(engine, t) for t in before} == before
    assert not (tmp_path / "outbox").exists() or not any((tmp_path / "outbox").iterdir())


def test_a_run_that_loses_the_race_leaves_the_winners_files(clinic, tmp_path):
    """Two runs of one slot at once: the loser discards its own staged files, never the
    winner's worklist (which once vanished while both runs were recorded ok)."""
    import monitor.jobs.nightly as nightly_module

    engine, config = clinic
    first = nightly(engine, config, "2026-06-01")
    published = {p: open(p, "rb").read() for p in first.files}
    real = nightly_module.completed
    calls = []

    def not_yet_then_done(conn, job, slot_on):
        calls.append(job)
        return None if len(calls) == 1 else real(conn, job, slot_on)  # the race: checked before the winner

    nightly_module.completed = not_yet_then_done
    try:
        assert nightly(engine, config, "2026-06-01").outcome == "skipped"
    finally:
        nightly_module.completed = real
    assert {p: open(p, "rb").read() for p in first.files} == published
    assert not [p for p in (tmp_path / "outbox").iterdir() if p.name.endswith(".part")]
