"""`monitor run`, `daemon` and `jobs`: the scheduled jobs, once or by the scheduler."""

from __future__ import annotations

import sys

import click

from monitor.cli.context import (
    as_of_option,
    pass_app,
    render,
    step_printer,
)


@click.group()
def run():
    """Run a scheduled job once, now (the same code the daemon runs).

    \b
    Example:
      monitor run nightly
    """


def _run_job(app, job, as_of, again, by, dry_run=False):
    from datetime import datetime, timezone

    from monitor.errors import MonitorError
    from monitor.jobs.nightly import run_job
    from monitor.services.audit import current_actor, today_in

    today = today_in(app.config)
    as_of = app.as_of(as_of)
    if as_of > today and not dry_run:
        raise MonitorError(f"--as-of {as_of.isoformat()} is in the future (today is {today.isoformat()}): a run "
                           "writes reminders for that day; add --dry-run to see what it would do")
    result = run_job(app.engine, job, slot_on=as_of, as_of=as_of, config=app.config,
                     now_utc=datetime.now(timezone.utc), trigger="manual", actor=current_actor(by or app.by),
                     again=again, dry_run=dry_run, progress=step_printer())
    if result.outcome == "skipped":
        click.echo(f"{result.message}; nothing to do (use --again to run it again)")
        return
    if result.outcome == "dry-run":
        click.echo(f"{job} for {as_of.isoformat()}: dry run, nothing written; would make "
                   + ", ".join(f"{k} {v}" for k, v in result.counts.items()))
        return
    click.echo(f"{job} for {as_of.isoformat()}: ok (run {result.run_id}); "
               + ", ".join(f"{k} {v}" for k, v in result.counts.items()))
    for f in result.files:
        click.echo(f"  wrote {f}")
    if result.message:
        click.echo(f"  {result.message}")


@run.command("nightly")
@as_of_option
@click.option("--again", is_flag=True, help="Run even if tonight's run is already done (reminders never double).")
@click.option("--dry-run", is_flag=True, help="Show what the run would do; write nothing (any --as-of).")
@click.option("--by", help="Who runs it (default: the OS user).")
@pass_app
def run_nightly(app, as_of, again, dry_run, by):
    """Evaluate the cohort and write reminders and the outbox worklist, once.

    A date in the future is refused unless --dry-run; a run for a past day never closes
    reminders that a run for a later day opened.

    \b
    Example:
      monitor run nightly
      monitor run nightly --as-of 2026-11-20
      monitor run nightly --as-of 2027-06-01 --dry-run
    """
    app.start_workers_early()
    _run_job(app, "nightly", as_of, again, by, dry_run)


@run.command("clinic-report")
@as_of_option
@click.option("--again", is_flag=True, help="Run even if this slot is already done.")
@click.option("--dry-run", is_flag=True, help="Check the date and the database; write nothing.")
@click.option("--by", help="Who runs it (default: the OS user).")
@pass_app
def run_clinic_report(app, as_of, again, dry_run, by):
    """Write the clinic report into the outbox, once (the daemon does it weekly).

    \b
    Example:
      monitor run clinic-report
    """
    _run_job(app, "clinic_report", as_of, again, by, dry_run)


@click.command()
@click.option("--log-file", type=click.Path(dir_okay=False), metavar="PATH",
              help="Append the log to this file (owner-only) instead of stderr; default [jobs] log_file.")
@pass_app
def daemon(app, log_file):
    """Run the scheduler in the foreground (for systemd or a terminal); stop with Ctrl-C or SIGTERM.

    One daemon per database: a second one refuses to start. At start-up it serves any run missed
    while it was down (once, as of today), then runs the nightly job and the weekly clinic report
    at the times of the configuration, in the clinic's time zone. Log times are in that zone
    with their offset; the lock file beside a SQLite database is removed on a clean stop.

    \b
    Example:
      monitor --config data/clinic.example.toml --db sqlite:///demo-output/monitor.db daemon
      monitor daemon --log-file monitor-daemon.log
    """
    from monitor.jobs.daemon import configure_logging, run_daemon
    from monitor.jobs.delivery import outbox_path
    from monitor.store import require_initialised

    require_initialised(app.engine)
    outbox_path(app.config, app.engine)  # a PostgreSQL database with no outbox set: say so now, not at 04:00
    configure_logging(app.config, log_file or app.config.jobs.log_file)
    sys.exit(run_daemon(app.engine, config=app.config))


@click.command()
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True, help="How many past runs.")
@pass_app
def jobs(app, limit):
    """Scheduled jobs with their next run, whether a daemon is running, and the last runs.

    \b
    Example:
      monitor jobs --limit 20
    """
    from datetime import datetime, timezone

    from monitor.jobs.daemon import next_fire_times
    from monitor.jobs.locks import DaemonLock
    from monitor.jobs.nightly import recent_runs
    from monitor.rules.clock_text import local_text
    from monitor.store import require_initialised

    require_initialised(app.engine)
    running = DaemonLock(app.engine).is_held_elsewhere()
    click.echo(f"Daemon: {'running' if running else 'not running'} (zone {app.config.timezone})")
    for job, when in next_fire_times(app.config, datetime.now(timezone.utc)).items():
        click.echo(f"  {job:14} next {local_text(when, app.config.zone)}")
    runs = recent_runs(app.engine, limit)
    click.echo(f"Last {len(runs)} run(s):")
    rows = [{"id": r.id, "job": r.job, "slot": str(r.slot_on)[:10], "as_of": str(r.as_of)[:10],
             "finished": local_text(r.finished_at, app.config.zone), "trigger": r.trigger, "outcome": r.outcome,
             "counts / error": r.error or r.counts} for r in runs.itertuples()]
    if rows:
        click.echo(render(rows, list(rows[0]), "table"))
