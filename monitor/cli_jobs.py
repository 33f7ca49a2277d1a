"""`monitor run`, `daemon`, `jobs` and `reminders`: the scheduled jobs and the reminder worklist."""

from __future__ import annotations

import sys

import click

from monitor.cli_common import (
    AppContext,
    as_of_option,
    format_option,
    parse_date,
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
    from monitor.services import current_actor, today_in

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
@pass_app
def daemon(app):
    """Run the scheduler in the foreground (for systemd or a terminal); stop with Ctrl-C or SIGTERM.

    One daemon per database: a second one refuses to start. At start-up it serves any run missed
    while it was down (once, as of today), then runs the nightly job and the weekly clinic report
    at the times of the configuration, in the clinic's time zone.

    \b
    Example:
      monitor --config data/clinic.example.toml --db sqlite:///demo-output/monitor.db daemon
    """
    import logging

    from monitor.jobs.daemon import run_daemon
    from monitor.store import require_initialised

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    require_initialised(app.engine)
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
    from monitor.store import require_initialised

    require_initialised(app.engine)
    running = DaemonLock(app.engine).is_held_elsewhere()
    click.echo(f"Daemon: {'running' if running else 'not running'} (zone {app.config.timezone})")
    for job, when in next_fire_times(app.config, datetime.now(timezone.utc)).items():
        click.echo(f"  {job:14} next {when.isoformat(timespec='minutes')}")
    runs = recent_runs(app.engine, limit)
    click.echo(f"Last {len(runs)} run(s):")
    rows = [{"id": r.id, "job": r.job, "slot": str(r.slot_on)[:10], "as_of": str(r.as_of)[:10],
             "finished (UTC)": str(r.finished_at)[:19], "trigger": r.trigger, "outcome": r.outcome,
             "counts / error": r.error or r.counts} for r in runs.itertuples()]
    if rows:
        click.echo(render(rows, list(rows[0]), "table"))


@click.group(invoke_without_command=True)
@click.option("--state", "states", multiple=True, type=click.Choice(("open", "deferred", "closed")),
              help="Only reminders in this state (repeatable; default open).")
@click.option("--all", "show_all", is_flag=True, help="Every reminder, whatever its state.")
@as_of_option
@format_option()
@click.pass_context
def reminders(ctx, states, show_all, as_of, fmt):
    """The reminder worklist; subcommands record outreach, defer, close, reopen, show history.

    \b
    Example:
      monitor reminders
      monitor reminders --state deferred --format csv
      monitor reminders outreach 12 --outcome booked --note "DXA on 3 Dec"
    """
    if ctx.invoked_subcommand is not None:
        return
    from monitor.reminder_work import LIST_COLUMNS, list_reminders

    app = ctx.find_object(AppContext)
    wanted = () if show_all else (tuple(states) or ("open",))
    table = list_reminders(app.engine, as_of=app.as_of(as_of), config=app.config, states=wanted)
    app.audit("view_reminders", "reminder worklist", rows=len(table), format=fmt)
    click.echo(render(table, LIST_COLUMNS, fmt))
    if fmt == "table":
        click.echo(f"{len(table)} reminder(s)")


def _reminder_action(app, reminder_id, kind, by, **kw):
    from monitor.reminder_work import record
    from monitor.services import current_actor, today_in

    state = record(app.engine, reminder_id, kind=kind, actor=current_actor(by), today=today_in(app.config), **kw)
    click.echo(f"Reminder {reminder_id}: {kind}; now {state}.")


@reminders.command("outreach")
@click.argument("reminder_id", type=int)
@click.option("--outcome", required=True,
              type=click.Choice(("contacted", "booked", "scan_done_elsewhere", "declined", "unreachable")))
@click.option("--note", help="Free text kept with the attempt (no need to repeat the patient's name).")
@click.option("--by", help="Who made the attempt (default: the OS user).")
@pass_app
def reminders_outreach(app, reminder_id, outcome, note, by):
    """Record an outreach attempt or its outcome; the reminder stays open until the scan is recorded.

    \b
    Example:
      monitor reminders outreach 12 --outcome unreachable --note "no answer, left voicemail"
    """
    _reminder_action(app, reminder_id, "outreach", by, outcome=outcome, reason=note)


@reminders.command("defer")
@click.argument("reminder_id", type=int)
@click.option("--until", "until_on", required=True, metavar="YYYY-MM-DD", help="The reminder reopens on this date.")
@click.option("--reason", required=True, help="Why it waits.")
@click.option("--by", help="Who defers it (default: the OS user).")
@pass_app
def reminders_defer(app, reminder_id, until_on, reason, by):
    """Set a reminder aside until a date; the nightly run reopens it on that date by itself.

    \b
    Example:
      monitor reminders defer 12 --until 2030-01-15 --reason "patient abroad until 2030"
    """
    _reminder_action(app, reminder_id, "deferred", by, reason=reason, until=parse_date(until_on, "--until"))


@reminders.command("close")
@click.argument("reminder_id", type=int)
@click.option("--reason", required=True, help="Why it is closed.")
@click.option("--by", help="Who closes it (default: the OS user).")
@pass_app
def reminders_close(app, reminder_id, reason, by):
    """Close a reminder; it stays closed across nights until a new due cycle starts.

    \b
    Example:
      monitor reminders close 12 --reason "declined further scans"
    """
    _reminder_action(app, reminder_id, "closed", by, reason=reason)


@reminders.command("reopen")
@click.argument("reminder_id", type=int)
@click.option("--reason", help="Why it is reopened.")
@click.option("--by", help="Who reopens it (default: the OS user).")
@pass_app
def reminders_reopen(app, reminder_id, reason, by):
    """Reopen a closed or deferred reminder.

    \b
    Example:
      monitor reminders close 12 --reason "moved away"
      monitor reminders reopen 12 --reason "closed by mistake"
    """
    _reminder_action(app, reminder_id, "reopened", by, reason=reason)


@reminders.command("history")
@click.argument("reminder_id", type=int)
@pass_app
def reminders_history(app, reminder_id):
    """Everything that happened to a reminder, oldest first.

    \b
    Example:
      monitor reminders history 12
    """
    from monitor.reminder_work import history

    events = history(app.engine, reminder_id)
    app.audit("view_reminder", f"reminder {reminder_id}", rows=len(events))
    click.echo(events.attrs["header"])
    rows = [{"at (UTC)": str(e.at)[:19], "by": e.actor, "event": e.kind, "outcome": e.outcome or "",
             "until": "" if e.until is None or e.until != e.until else str(e.until)[:10], "note": e.reason or ""}
            for e in events.itertuples()]
    click.echo(render(rows, ["at (UTC)", "by", "event", "outcome", "until", "note"], "table"))
