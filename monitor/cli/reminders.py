"""`monitor reminders`: the worklist staff work, and outreach, deferral, closing, assignment, history.

Every action takes an MRN or a reminder id (`id:12` is always an id; a value that is an MRN is
that MRN; otherwise a number that is a reminder id is that id) and answers with the patient.
"""

from __future__ import annotations


import click

from monitor.cli.context import (
    AppContext,
    as_of_option,
    format_option,
    parse_date,
    pass_app,
    render,
    step_printer,
)

KEY = "MRN-or-ID"
OUTCOME_CHOICES = ("contacted", "booked", "scan_done_elsewhere", "declined", "unreachable")


def _by_option(what: str):
    return click.option("--by", metavar="NAME", help=f"Who {what} (default: the global --by, else the OS user).")


@click.group(invoke_without_command=True)
@click.option("--state", "states", multiple=True, type=click.Choice(("open", "deferred", "closed")),
              help="Only reminders in this state (repeatable).")
@click.option("--all", "show_all", is_flag=True, help="Every reminder, whatever its state.")
@click.option("--mine", is_flag=True, help="Only reminders assigned to you (--by, else the OS user).")
@click.option("--assigned-to", metavar="USER", help="Only reminders assigned to USER.")
@click.option("--unassigned", is_flag=True, help="Only reminders assigned to nobody.")
@_by_option("you are, for --mine")
@as_of_option
@format_option()
@click.pass_context
def reminders(ctx, states, show_all, mine, assigned_to, unassigned, by, as_of, fmt):
    """The reminder worklist: open reminders most overdue first, and deferred ones of patients
    with an unacknowledged urgent flag (state `deferred (urgent flag)`), so a deferral never
    hides an urgent sign. Subcommands record outreach, defer, close, reopen, assign, history.

    A reminder is named by the patient's MRN or by its id: `id:12` is always reminder 12; a
    value that is a patient's MRN is that MRN (MRNs are text: `007` is an MRN if one exists);
    otherwise a number that is a reminder id is that reminder. An MRN means the patient's one
    open or deferred reminder; if there are several, the error lists their ids.

    \b
    Example:
      monitor reminders
      monitor reminders --mine --by clerk1
      monitor reminders --state deferred --format csv
      monitor reminders outreach TOH-000072 --outcome booked --on 2026-12-03 --note "DXA at 9:00"
    """
    if ctx.invoked_subcommand is not None:
        return
    from monitor.services.audit import current_actor
    from monitor.services.reminders import LIST_COLUMNS, list_reminders

    app = ctx.find_object(AppContext)
    if sum((mine, assigned_to is not None, unassigned)) > 1:
        raise click.UsageError("give one of --mine, --assigned-to, --unassigned")
    wanted = () if show_all else (tuple(states) or None)
    who = current_actor(by or app.by) if mine else assigned_to
    table = list_reminders(app.engine, as_of=app.as_of(as_of), config=app.config, states=wanted,
                           assigned_to=who, unassigned=unassigned, progress=step_printer())
    app.audit("view_reminders", "reminder worklist", rows=len(table), format=fmt)
    click.echo(render(table, LIST_COLUMNS, fmt))
    if fmt == "table":
        click.echo(f"{len(table)} reminder(s)" + (f" assigned to {who}" if who is not None else ""))


def _act(app, key, kind, by, say, **kw):
    """Record the action, then answer with whom it hit and the state it left."""
    from monitor.services.audit import current_actor, today_in
    from monitor.services.reminders import act

    done = act(app.engine, key, kind=kind, actor=current_actor(by or app.by), today=today_in(app.config),
               config=app.config, **kw)
    app.audit(f"reminder_{kind}", f"reminder {done.reminder_id}", rows=1, mrn=done.mrn)
    if done.state == done.before and kind in ("outreach", "assigned"):
        after = f"still {done.state}"
    else:
        after = f"now {done.state}"
    click.echo(f"{done.who}: {say}; {after}.")


@reminders.command("outreach")
@click.argument("key", metavar=KEY)
@click.option("--outcome", required=True, type=click.Choice(OUTCOME_CHOICES))
@click.option("--on", "booked_on", metavar="YYYY-MM-DD",
              help="The booked appointment's date (required with --outcome booked, only with it).")
@click.option("--note", help="Free text kept with the attempt (no need to repeat the patient's name).")
@_by_option("made the attempt")
@pass_app
def reminders_outreach(app, key, outcome, booked_on, note, by):
    """Record an outreach attempt or its outcome; the reminder stays open until the scan is recorded.

    `--outcome booked` needs the appointment date (`--on`, not over 30 days ago nor over two
    years ahead).

    \b
    Example:
      monitor reminders outreach TOH-000072 --outcome unreachable --note "no answer, left voicemail"
      monitor reminders outreach TOH-000072 --outcome booked --on 2026-12-03
    """
    on = parse_date(booked_on, "--on") if booked_on is not None else None
    say = f"booked for {on.isoformat()}" if on else f"outreach {outcome.replace('_', ' ')}"
    _act(app, key, "outreach", by, say, outcome=outcome, reason=note, booked_on=on)


@reminders.command("defer")
@click.argument("key", metavar=KEY)
@click.option("--until", "until_on", required=True, metavar="YYYY-MM-DD", help="The reminder reopens on this date.")
@click.option("--reason", required=True, help="Why it waits.")
@_by_option("defers it")
@pass_app
def reminders_defer(app, key, until_on, reason, by):
    """Set a reminder aside until a date; the nightly run reopens it on that date by itself.

    \b
    Example:
      monitor reminders defer TOH-000072 --until 2030-01-15 --reason "patient abroad until 2030"
    """
    until = parse_date(until_on, "--until")
    _act(app, key, "deferred", by, f"deferred until {until.isoformat()} ({reason})", reason=reason, until=until)


@reminders.command("close")
@click.argument("key", metavar=KEY)
@click.option("--reason", required=True, help="Why it is closed.")
@_by_option("closes it")
@pass_app
def reminders_close(app, key, reason, by):
    """Close a reminder; it stays closed across nights until a new due cycle starts.

    \b
    Example:
      monitor reminders close TOH-000072 --reason "declined further scans"
    """
    _act(app, key, "closed", by, f"closed ({reason})", reason=reason)


@reminders.command("reopen")
@click.argument("key", metavar=KEY)
@click.option("--reason", help="Why it is reopened.")
@_by_option("reopens it")
@pass_app
def reminders_reopen(app, key, reason, by):
    """Reopen a closed or deferred reminder (by MRN: a deferred one, or the patient's latest if closed).

    \b
    Example:
      monitor reminders close TOH-000072 --reason "moved away"
      monitor reminders reopen TOH-000072 --reason "closed by mistake"
    """
    _act(app, key, "reopened", by, "reopened" + (f" ({reason})" if reason else ""), reason=reason)


@reminders.command("assign")
@click.argument("key", metavar=KEY)
@click.option("--to", "assignee", required=True, metavar="USER", help='Who works it ("" unassigns).')
@click.option("--due-by", metavar="YYYY-MM-DD", help="The date by which it should be worked.")
@_by_option("assigns it")
@pass_app
def reminders_assign(app, key, assignee, due_by, by):
    """Give a reminder to someone to work (`monitor reminders --mine` is their list); the
    reminder's state does not change. `--to ""` (or `unassign`) gives it back to nobody.

    \b
    Example:
      monitor reminders assign TOH-000072 --to clerk1 --due-by 2030-12-01
      monitor reminders --mine --by clerk1
    """
    work_by = parse_date(due_by, "--due-by") if due_by is not None else None
    assignee = assignee.strip()
    say = (f"assigned to {assignee}" + (f", work by {work_by.isoformat()}" if work_by else "")) if assignee \
        else "unassigned"
    _act(app, key, "assigned", by, say, assignee=assignee, due_by=work_by)


@reminders.command("unassign")
@click.argument("key", metavar=KEY)
@_by_option("unassigns it")
@pass_app
def reminders_unassign(app, key, by):
    """Take a reminder off anyone's list (the same as `assign --to ""`); its state does not change.

    \b
    Example:
      monitor reminders unassign TOH-000072
    """
    _act(app, key, "assigned", by, "unassigned", assignee="")


@reminders.command("history")
@click.argument("key", metavar=KEY)
@pass_app
def reminders_history(app, key):
    """Everything that happened to a reminder, oldest first, times in the clinic's zone; for an
    MRN, every reminder of that patient (newest first).

    \b
    Example:
      monitor reminders history TOH-000072
    """
    from monitor.services.reminders import HISTORY_COLUMNS, history

    found = history(app.engine, key, config=app.config)
    app.audit("view_reminder", f"patient {found[0].mrn}", rows=sum(len(h.rows) for h in found),
              reminders=[h.reminder_id for h in found])
    for n, h in enumerate(found):
        if n:
            click.echo("")
        click.echo(h.header)
        click.echo(render(h.rows, HISTORY_COLUMNS, "table"))
