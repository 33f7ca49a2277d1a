"""`monitor daemon`: APScheduler in the foreground, one per database.

The schedule comes from the config at every start (memory job store, explicit ids). What has
run lives in our own table (`job_completion`, unique per job and day). Every fire, and the
start-up itself, serves the latest slot that is due and not yet served, with `as_of` = today:
downtime of three nights gives one catch-up run, and a double fire (DST) is a no-op.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from monitor.config import Config
from monitor.errors import MonitorError
from monitor.jobs.locks import DaemonLock
from monitor.jobs.nightly import CLINIC_REPORT, JOBS, NIGHTLY, run_job

log = logging.getLogger("monitor.jobs")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _hm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def latest_slot(job: str, now_local: datetime, config: Config) -> date:
    """The scheduled day of the latest slot at or before `now_local` (a pure function)."""
    if job == NIGHTLY:
        at = _hm(config.jobs.nightly_time)
        return now_local.date() if now_local.time() >= at else now_local.date() - timedelta(days=1)
    if job == CLINIC_REPORT:
        at = _hm(config.jobs.report_time)
        weekday = WEEKDAYS.index(config.jobs.report_day)
        back = (now_local.weekday() - weekday) % 7
        day = now_local.date() - timedelta(days=back)
        if back == 0 and now_local.time() < at:
            day -= timedelta(days=7)
        return day
    raise ValueError(f"unknown job {job!r}")


def triggers(config: Config) -> dict:
    """The cron triggers of the jobs, in the clinic's zone."""
    from apscheduler.triggers.cron import CronTrigger

    zone = config.zone
    nightly = _hm(config.jobs.nightly_time)
    report = _hm(config.jobs.report_time)
    return {
        NIGHTLY: CronTrigger(hour=nightly.hour, minute=nightly.minute, timezone=zone),
        CLINIC_REPORT: CronTrigger(day_of_week=config.jobs.report_day, hour=report.hour, minute=report.minute,
                                   timezone=zone),
    }


def serve_due(engine: Engine, job: str, *, config: Config, now_utc: datetime, trigger: str, actor: str):
    """Serve the latest due slot of a job if it has not been served; the clock value is passed in."""
    now_local = now_utc.astimezone(config.zone)
    slot = latest_slot(job, now_local, config)
    result = run_job(engine, job, slot_on=slot, as_of=now_local.date(), config=config, now_utc=now_utc,
                     trigger=trigger, actor=actor)
    if result.outcome == "ok":
        log.info("%s for %s (as of %s): ok %s%s", job, slot, result.as_of,
                 " ".join(f"{k}={v}" for k, v in result.counts.items()),
                 f"; {result.message}" if result.message else "")
    else:
        log.info("%s for %s: %s", job, slot, result.message)
    return result


def _job_entry(engine: Engine, job: str, config: Config, actor: str, state: dict) -> None:
    """What the scheduler calls: reads the clock once, never lets an error kill the scheduler."""
    trigger = "catch-up" if state.setdefault(job, "start") == "start" else "schedule"
    state[job] = "running"
    try:
        serve_due(engine, job, config=config, now_utc=datetime.now(timezone.utc), trigger=trigger, actor=actor)
    except (MonitorError, DBAPIError):  # a situation (busy, read-only, a bad setting): run_job logged why
        log.error("%s failed; the next fire will try again", job)
    except Exception:  # a bug: loud, with its traceback (SQL parameters are never printed)
        log.exception("%s failed; the next fire will try again", job)


QUIET_LOGGERS = ("apscheduler", "matplotlib", "PIL", "fontTools")  # their INFO chatter fills the log


class ClinicTimeFormatter(logging.Formatter):
    """Log times in the clinic's zone with the offset: `2026-03-29 04:00:01 +02:00`."""

    def __init__(self, zone, fmt: str = "%(asctime)s %(levelname)s %(message)s"):
        super().__init__(fmt)
        self.zone = zone

    def formatTime(self, record, datefmt=None):  # noqa: N802 (logging's name)
        local = datetime.fromtimestamp(record.created, self.zone)
        offset = local.strftime("%z")
        return f"{local:%Y-%m-%d %H:%M:%S} {offset[:3]}:{offset[3:]}"


def open_log_file(path) -> "logging.Handler":
    """A handler appending to `path`, which is created (or kept) readable by its owner only."""
    import os
    from pathlib import Path

    target = Path(path).expanduser()
    if target.is_dir():
        raise MonitorError(f"--log-file {target}: is a folder; name a file")
    if not target.parent.is_dir():
        raise MonitorError(f"--log-file {target}: folder {target.parent} does not exist")
    try:
        fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.fchmod(fd, 0o600)  # a log names MRNs: an older, wider file is narrowed
    except PermissionError:
        raise MonitorError(f"--log-file {target}: permission denied") from None
    stream = os.fdopen(fd, "a", encoding="utf-8", buffering=1)
    return logging.StreamHandler(stream)


def configure_logging(config: Config, log_file=None) -> None:
    """The daemon's log: INFO to stderr, or appended to `log_file`; times in the clinic's zone;
    third-party chatter at WARNING and above only."""
    handler = open_log_file(log_file) if log_file else logging.StreamHandler()
    handler.setFormatter(ClinicTimeFormatter(config.zone))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def run_daemon(engine: Engine, *, config: Config, actor: str = "daemon", ready=None) -> int:
    """Run the scheduler in the foreground until SIGTERM or SIGINT; returns the exit code."""
    from apscheduler.schedulers.background import BackgroundScheduler

    lock = DaemonLock(engine).acquire()
    try:
        scheduler = BackgroundScheduler(timezone=config.zone, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": None})
        state: dict = {}
        now = datetime.now(config.zone)
        for job, trig in triggers(config).items():
            # next_run_time=now: the start-up serves any slot missed while the daemon was down.
            scheduler.add_job(_job_entry, trig, id=job, name=job, args=(engine, job, config, actor, state),
                              next_run_time=now, replace_existing=True)

        stopping = threading.Event()

        def stop(signum, _frame):
            # The handler only asks; the main loop below stops the scheduler. Shutting down inside
            # the handler deadlocked when the signal interrupted the executor's `submit`.
            log.info("received %s: stopping after the running job", signal.Signals(signum).name)
            stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        scheduler.start()
        log.info("daemon started (lock %s); zone %s; nightly at %s; clinic report %s %s",
                 lock.describe(), config.timezone, config.jobs.nightly_time, config.jobs.report_day,
                 config.jobs.report_time)
        if ready:
            ready(scheduler)
        # A short timed wait, not one long block: a signal delivered to a worker thread is only
        # handled when the main thread next runs Python code (a long wait lost SIGTERM for hours).
        while not stopping.wait(0.5):
            pass
        scheduler.shutdown(wait=True)
        log.info("daemon stopped")
        return 0
    finally:
        lock.release()


def next_fire_times(config: Config, now_utc: datetime) -> dict[str, datetime]:
    """When each job fires next (for `monitor jobs`)."""
    now_local = now_utc.astimezone(config.zone)
    return {job: trig.get_next_fire_time(None, now_local) for job, trig in triggers(config).items()}


__all__ = ["JOBS", "configure_logging", "latest_slot", "next_fire_times", "run_daemon", "serve_due", "triggers"]
