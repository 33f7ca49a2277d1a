"""The nightly surveillance run: evaluate the cohort, write reminders in one transaction.

`run_job` is what both the daemon and `monitor run nightly` call. The clock is read by the
caller and passed in; the slot (the scheduled day) is recorded in `job_completion` in the same
transaction as the reminders, so a slot is served once whatever fires, and a crash leaves the
database as it was.
"""

from __future__ import annotations

import json
import logging
import traceback
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import pandas as pd
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from monitor import store
from monitor.store.bulk_write import insert_rows
from monitor.store.reminders import completed
from monitor.config import Config
from monitor.errors import MonitorError
# Core tables: the run never loads SQLModel and the ORM models (~0.3 s before its workers start)
from monitor.store.core_tables import flag_seen, job_completion, job_run, reminder, reminder_event
from monitor.services.audit import os_user

log = logging.getLogger("monitor.jobs")

NIGHTLY = "nightly"
CLINIC_REPORT = "clinic_report"
JOBS = (NIGHTLY, CLINIC_REPORT)
BATCH_ROWS = 10_000  # rows per INSERT statement


@dataclass
class JobResult:
    job: str
    slot_on: date
    as_of: date
    outcome: str  # ok, skipped, failed
    run_id: int | None = None
    counts: dict = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    message: str = ""


def run_job(engine: Engine, job: str, *, slot_on: date, as_of: date, config: Config, now_utc: datetime,
            trigger: str, actor: str, again: bool = False, dry_run: bool = False, progress=None) -> JobResult:
    """Serve one slot of a job unless it was already served; record the attempt either way it ends."""
    store.require_initialised(engine)
    with store.reading(engine) as conn:
        done = completed(conn, job, slot_on)
    if done is not None and not again and not dry_run:
        return JobResult(job, slot_on, as_of, "skipped", done, message=f"{job} for {slot_on} already done (run {done})")
    try:
        if job == NIGHTLY:
            return _nightly(engine, slot_on=slot_on, as_of=as_of, config=config, now_utc=now_utc, trigger=trigger,
                            actor=actor, record_completion=done is None, dry_run=dry_run, progress=progress)
        if job == CLINIC_REPORT:
            if dry_run:
                return JobResult(job, slot_on, as_of, "dry-run", None, {}, message="dry run: nothing was written")
            return _clinic_report(engine, slot_on=slot_on, as_of=as_of, config=config, now_utc=now_utc,
                                  trigger=trigger, actor=actor, record_completion=done is None)
        raise ValueError(f"unknown job {job!r}")
    except _AlreadyDone as exc:
        return JobResult(job, slot_on, as_of, "skipped", exc.run_id, message=f"{job} for {slot_on} already done")
    except IntegrityError:
        # Another process recorded the same slot between our check and our commit.
        return JobResult(job, slot_on, as_of, "skipped", None, message=f"{job} for {slot_on} done by another process")
    except Exception as exc:
        error = describe_failure(exc)
        log.error("job %s for %s failed: %s", job, slot_on, error)
        try:
            with store.transaction(engine) as conn:
                _insert_run(conn, job=job, slot_on=slot_on, as_of=as_of, now_utc=now_utc, trigger=trigger,
                            actor=actor, outcome="failed", counts={}, error=error)
        except DBAPIError as again:  # the database itself is what failed (busy, read-only, gone)
            log.error("job %s for %s: the failure could not be recorded: %s", job, slot_on, describe_failure(again))
        raise


def describe_failure(exc: BaseException) -> str:
    """A failed run's reason for the log and the run table: a database failure by its kind
    (its driver message may quote patient values), anything else as it is (a bug to fix)."""
    if isinstance(exc, DBAPIError):
        return str(store.explain(exc))
    if isinstance(exc, MonitorError):
        return str(exc)
    return "".join(traceback.format_exception_only(exc)).strip()[:2000]


class _AlreadyDone(Exception):
    def __init__(self, run_id: int):
        self.run_id = run_id


def _insert_run(conn, *, job, slot_on, as_of, now_utc, trigger, actor, outcome, counts, error="") -> int:
    """One row of the run log; returns its id."""
    return conn.execute(job_run.insert().returning(job_run.c.id), {
        "job": job, "slot_on": slot_on, "as_of": as_of, "started_at": now_utc,
        "finished_at": datetime.now(timezone.utc), "outcome": outcome, "trigger": trigger,
        "counts": json.dumps(counts), "error": error, "actor": actor}).scalar_one()


def _record_run(conn, *, job, slot_on, as_of, now_utc, trigger, actor, counts, record_completion) -> int:
    run_id = _insert_run(conn, job=job, slot_on=slot_on, as_of=as_of, now_utc=now_utc, trigger=trigger,
                         actor=actor, outcome="ok", counts=counts)
    if record_completion:
        # Checked again inside the write transaction: a second process that got here first wins.
        done = completed(conn, job, slot_on)
        if done is not None:
            raise _AlreadyDone(done)
        conn.execute(job_completion.insert(), {"job": job, "slot_on": slot_on, "run_id": run_id})
    return run_id


def _nightly(engine: Engine, *, slot_on, as_of, config: Config, now_utc, trigger, actor, record_completion,
             dry_run=False, progress=None) -> JobResult:
    """Evaluate the cohort chunk by chunk (nightly_chunks) before the write transaction, then plan,
    write and list tonight's reminders in it, a chunk of patients' reminders at a time."""
    from monitor.jobs.delivery import stage_delivery
    from monitor.jobs.nightly_chunks import evaluate_nightly, plan_nightly, working_list

    step = progress or (lambda _msg: None)
    step("evaluating the cohort (warn and urgent flags fingerprinted)")
    cohort = evaluate_nightly(engine, as_of=as_of, config=config, progress=progress)
    if dry_run:
        with store.reading(engine) as conn:
            plan, counts = plan_nightly(conn, cohort, as_of=as_of, config=config)
        return JobResult(NIGHTLY, slot_on, as_of, "dry-run", None, counts, message="dry run: nothing was written")
    from monitor.jobs.delivery import outbox_path

    folder = outbox_path(config, engine)  # a PostgreSQL database with no outbox set stops here, before any write
    staged = []
    try:
        with store.transaction(engine) as conn:
            step("planning reminders")
            plan, counts = plan_nightly(conn, cohort, as_of=as_of, config=config)
            run_id = _record_run(conn, job=NIGHTLY, slot_on=slot_on, as_of=as_of, now_utc=now_utc, trigger=trigger,
                                 actor=actor, counts=counts, record_completion=record_completion)
            new_seen = record_seen(conn, cohort.keys, as_of=as_of, run_id=run_id)
            counts["flags_first_seen"] = len(new_seen)
            step(f"writing {len(plan.new)} new reminder(s)")
            new = plan.new
            if len(new):
                insert_rows(conn, reminder, {
                    "patient_id": new["patient_id"].astype("int64").tolist(), "item": new["item"].tolist(),
                    "due_date": new["due_date"].dt.date.tolist(), "created_at": [now_utc] * len(new),
                    "run_id": [run_id] * len(new)})
            keyed = plan.new.merge(_opened_by(conn, run_id), on=["patient_id", "item", "due_date"])  # their ids
            _insert_events(conn, [("created", keyed["reminder_id"], "due " + keyed["due_date"].dt.strftime("%Y-%m-%d")),
                                  ("closed", plan.close["reminder_id"], plan.close["reason"]),
                                  ("reopened", plan.reopen["reminder_id"], plan.reopen["reason"])],
                           at=now_utc, actor=actor)
            del keyed
            # Open reminders, and deferred ones of patients with an unacknowledged urgent flag:
            # a deferral never hides an urgent sign from tonight's worklist.
            step("listing tonight's work")
            work = working_list(conn, cohort, config=config)
            unsent = work.loc[~work["was_sent"], "reminder_id"]
            _insert_events(conn, [("sent", unsent, f"worklist {as_of}")], at=now_utc, actor=actor)
            counts.update(open=int((work["state"] == "open").sum()), deferred_urgent=int((work["state"] != "open").sum()),
                          sent_first_time=len(unsent))
            conn.execute(job_run.update().where(job_run.c.id == run_id).values(
                counts=json.dumps(counts)))
            step("delivering the worklist")
            staged = stage_delivery(work, cohort.digest(), counts=counts, as_of=as_of, config=config, folder=folder,
                                    new_seen=new_seen)
            store.record_event(conn, actor=os_user(), action="nightly_worklist",
                               subject=", ".join(str(f.target.resolve()) for f in staged), rows=len(work),
                               detail={"as_of": as_of.isoformat(), "run_id": run_id, "on_behalf_of": actor})
    except BaseException:
        for f in staged:
            f.discard()  # our own staged files only: never a file another run published
        raise
    written = [f.publish() for f in staged]  # after the commit: a file on disk always has its record
    result = JobResult(NIGHTLY, slot_on, as_of, "ok", run_id, counts, [str(p) for p in written])
    from monitor.jobs.delivery import mail_digest

    result.message = mail_digest(written, config=config, as_of=as_of)
    return result


def _opened_by(conn, run_id: int) -> pd.DataFrame:
    """The reminders this run opened (their ids), not every reminder."""
    table = reminder
    rows = conn.execute(select(table.c.id, table.c.patient_id, table.c.item, table.c.due_date)
                        .where(table.c.run_id == run_id)).cursor.fetchall()  # the driver's rows: no Row objects
    opened = pd.DataFrame(rows, columns=["reminder_id", "patient_id", "item", "due_date"])
    opened["due_date"] = pd.to_datetime(opened["due_date"]).astype("datetime64[us]")
    return opened.astype({"reminder_id": "int64", "patient_id": "int64"})


def record_seen(conn, keys: pd.DataFrame, *, as_of: date, run_id: int) -> pd.DataFrame:
    """Insert a `flag_seen` row for every (patient, code, fingerprint) not seen before, in one
    statement (a conflict with an existing row, even another process's, is skipped). Returns the
    rows this run saw first: patient_id, code, severity."""
    table = flag_seen
    if len(keys):
        for start in range(0, len(keys), BATCH_ROWS):  # a batch at a time: bounded memory
            part = keys.iloc[start:start + BATCH_ROWS]
            insert_rows(conn, table, {
                "patient_id": [int(p) for p in part["patient_id"]], "code": part["code"].tolist(),
                "fingerprint": part["fingerprint"].tolist(), "severity": part["severity"].tolist(), "first_seen_on": [as_of] * len(part),
                "run_id": [run_id] * len(part)}, skip_conflicts_on=("patient_id", "code", "fingerprint"))
    rows = conn.execute(select(table.c.patient_id, table.c.code, table.c.severity)
                        .where(table.c.run_id == run_id)).cursor.fetchall()  # the driver's rows: no Row objects
    return pd.DataFrame(rows, columns=["patient_id", "code", "severity"])


def _insert_events(conn, kinds: list[tuple], *, at: datetime, actor: str) -> None:
    """Events of each (kind, reminder ids, reasons: a Series or one text), in that order, made by
    `actor` at `at`, a batch of rows at a time."""
    ids, kind, reason = [], [], []
    for name, reminder_ids, why in kinds:
        ids += pd.Series(reminder_ids).astype("int64").tolist()
        kind += [name] * len(reminder_ids)
        reason += why.tolist() if isinstance(why, pd.Series) else [why] * len(reminder_ids)
    for start in range(0, len(ids), BATCH_ROWS):
        part = ids[start:start + BATCH_ROWS]
        insert_rows(conn, reminder_event, {
            "reminder_id": part, "at": [at] * len(part), "actor": [actor] * len(part),
            "kind": kind[start:start + BATCH_ROWS], "reason": reason[start:start + BATCH_ROWS],
            "outcome": [None] * len(part), "until": [None] * len(part)})


def _clinic_report(engine: Engine, *, slot_on, as_of, config: Config, now_utc, trigger, actor,
                   record_completion) -> JobResult:
    from monitor.jobs.delivery import outbox_dir
    from monitor.reports.clinic import LIST_LIMIT, write_clinic_report
    from monitor.services.chunks import clinic_summary

    folder = outbox_dir(config, engine)
    summary = clinic_summary(engine, as_of=as_of, config=config, limit=LIST_LIMIT)
    target = folder / f"clinic-report-{as_of.isoformat()}.pdf"
    counts = {"patients": summary.active, "overdue": summary.status["overdue"], "files": 1}
    run_ids = []

    def record():
        # The report is staged beside its target; it is renamed into place only after this commits,
        # so a run that loses the race discards its own copy and never deletes the winner's file.
        with store.transaction(engine) as conn:
            run_ids.append(_record_run(conn, job=CLINIC_REPORT, slot_on=slot_on, as_of=as_of, now_utc=now_utc,
                                       trigger=trigger, actor=actor, counts=counts,
                                       record_completion=record_completion))
            store.record_event(conn, actor=os_user(), action="report_clinic", subject=str(target.resolve()),
                               rows=counts["patients"], detail={"as_of": as_of.isoformat(), "on_behalf_of": actor})

    write_clinic_report(summary, target, config=config, record=record)
    return JobResult(CLINIC_REPORT, slot_on, as_of, "ok", run_ids[0], counts, [str(target)])


def recent_runs(engine: Engine, limit: int = 20) -> pd.DataFrame:
    with store.reading(engine) as conn:
        return pd.read_sql_query(text(
            "SELECT id, job, slot_on, as_of, started_at, finished_at, outcome, trigger, counts, error, actor "
            "FROM job_run ORDER BY id DESC LIMIT :n"), conn, params={"n": limit})
