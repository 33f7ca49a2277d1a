"""`monitor reminders`: the worklist staff work, and outreach, deferral, closing, history."""

from __future__ import annotations


import click

from monitor.cli.context import (
    AppContext,
    as_of_option,
    format_option,
    parse_date,
    pass_app,
    render,
)


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
    from monitor.services.reminders import LIST_COLUMNS, list_reminders

    app = ctx.find_object(AppContext)
    wanted = () if show_all else (tuple(states) or ("open",))
    table = list_reminders(app.engine, as_of=app.as_of(as_of), config=app.config, states=wanted)
    app.audit("view_reminders", "reminder worklist", rows=len(table), format=fmt)
    click.echo(render(table, LIST_COLUMNS, fmt))
    if fmt == "table":
        click.echo(f"{len(table)} reminder(s)")


def _reminder_action(app, reminder_id, kind, by, **kw):
    from monitor.services.reminders import record
    from monitor.services.audit import current_actor, today_in

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
    from monitor.services.reminders import history

    events = history(app.engine, reminder_id)
    app.audit("view_reminder", f"reminder {reminder_id}", rows=len(events))
    click.echo(events.attrs["header"])
    rows = [{"at (UTC)": str(e.at)[:19], "by": e.actor, "event": e.kind, "outcome": e.outcome or "",
             "until": "" if e.until is None or e.until != e.until else str(e.until)[:10], "note": e.reason or ""}
            for e in events.itertuples()]
    click.echo(render(rows, ["at (UTC)", "by", "event", "outcome", "until", "note"], "table"))
