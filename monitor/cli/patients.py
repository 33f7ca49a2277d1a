"""`monitor due`, `flags` and `show`: who is due, what is flagged, one patient whole."""

from __future__ import annotations


import click

from monitor.cli.context import (
    AppContext,
    MonitorGroup,
    SEVERITIES,
    STATUS_CHOICES,
    as_of_option,
    format_option,
    pass_app,
    render,
    step_printer,
)


@click.command()
@as_of_option
@click.option("--status", "statuses", multiple=True, type=click.Choice(STATUS_CHOICES),
              help="Only these statuses (repeatable).")
@format_option()
@pass_app
def due(app, as_of, statuses, fmt):
    """The DXA surveillance status of every active patient, most overdue first.

    After the schedule's columns: phone, preferred contact, and where staff stand with the
    patient's reminder (reminder_state none/open/deferred/closed, last_outreach_on, assigned_to;
    in CSV/JSON reminder_note says until when and why a reminder waits, the last outreach and
    the work-by date; the table says it in the state column).

    \b
    Example:
      monitor due --status due --status overdue
      monitor due --as-of 2026-01-31 --format csv > due.csv
    """
    app.start_workers_early()
    from monitor.rules.evaluation import EXPORT_COLUMNS
    from monitor.services.list_streams import list_text, spool_due

    as_of = app.as_of(as_of)
    if fmt == "table":
        columns = [c for c in EXPORT_COLUMNS if c not in ("as_of", "reminder_note")]
        prepare = "state_in_words"  # the reminder state as a sentence (services.list_streams.PREPARE)
    else:
        columns, prepare = EXPORT_COLUMNS, None
    # Evaluated a chunk of patients at a time ([scale] chunk_patients), merged in the list's order.
    out = spool_due(app.engine, as_of=as_of, config=app.config, statuses=tuple(statuses), fmt=fmt,
                    columns=columns, progress=step_printer(), prepare=prepare)
    _audit_and_echo(app, out, list_text, "view_due", "due list", fmt=fmt, as_of=as_of)
    if fmt == "table":
        click.echo(f"{out.count} patient(s), as of {as_of.isoformat()}")


def _audit_and_echo(app, out, text, action: str, target: str, *, fmt: str, as_of) -> None:
    """Record the view (before any of it is printed), print the spooled list, close its spool."""
    try:
        app.audit(action, target, rows=out.count, format=fmt, as_of=as_of.isoformat())
        for piece in text(out):
            click.echo(piece, nl=False)
    finally:
        out.close()


class FlagsGroup(MonitorGroup):
    """`monitor flags [MRN]` lists; `monitor flags ack MRN CODE` acknowledges.

    A word that names a subcommand is the subcommand, never an MRN (click would otherwise bind
    `ack` to the optional MRN argument)."""

    allow_interspersed_args = True  # `monitor flags MRN --as-of DATE`: options after the MRN

    def parse_args(self, ctx, args):
        if args and args[0] in self.commands:
            click.Command.parse_args(self, ctx, [])  # the group's own options keep their defaults
            ctx._protected_args, ctx.args = args[:1], args[1:]
            return ctx.args
        return super().parse_args(ctx, args)


class GroupArgument(click.Argument):
    """The group's optional MRN: shown in `monitor flags [MRN]`, not in `monitor flags ack`'s usage."""

    def get_usage_pieces(self, ctx):
        return super().get_usage_pieces(ctx) if isinstance(ctx.command, FlagsGroup) else []


@click.group(cls=FlagsGroup, invoke_without_command=True, subcommand_metavar="[ack MRN CODE --note TEXT | review]")
@click.argument("mrn", required=False, cls=GroupArgument)
@as_of_option
@click.option("--severity", type=click.Choice(SEVERITIES), default="info", show_default=True,
              help="Only flags of at least this severity.")
@click.option("--code", "codes", multiple=True, help="Only flags with this code (repeatable).")
@format_option(("table", "json"))
@click.pass_context
def flags(ctx, mrn, as_of, severity, codes, fmt):
    """Clinical flags of every active patient (or one), each with evidence, action and sources.

    Severity is info, warn or urgent; --severity warn shows warn and urgent. An acknowledged
    flag is listed and marked (JSON: acknowledged_by, acknowledged_at); `monitor flags ack`
    acknowledges one; `monitor flags review` lists those waiting for a clinician.

    \b
    Example:
      monitor flags --severity urgent
      monitor flags TOH-000042 --format json
    """
    if ctx.invoked_subcommand is not None:
        return
    app = ctx.find_object(AppContext)
    as_of = app.as_of(as_of)
    if mrn is None:
        return _all_flags(app, as_of=as_of, severity=severity, codes=tuple(codes), fmt=fmt)
    from monitor.rules.evaluation import flag_rows
    from monitor.services.evaluation import flags_db
    from monitor.services.list_streams import flag_json, flag_lines

    found, patients = flags_db(app.engine, as_of=as_of, config=app.config, mrn=mrn, progress=step_printer())
    rows = flag_rows(found, patients, min_severity=severity, codes=tuple(codes))
    app.audit("view_flags", f"patient {mrn}", rows=len(rows), format=fmt, as_of=as_of.isoformat())
    acked = rows["acknowledged_by"] != ""
    if fmt == "json":
        records = flag_json(rows, acked)
        click.echo("[\n" + ",\n".join(records) + "\n]" if records else "[]")
        return
    for text in flag_lines(rows, acked, app.config):
        click.echo(text, nl=False)
    click.echo(flags_summary(len(rows), rows["mrn"].nunique(), int(acked.sum()), as_of))


def _all_flags(app, *, as_of, severity: str, codes: tuple[str, ...], fmt: str) -> None:
    """Every active patient's flags, evaluated a chunk of patients at a time and merged in order."""
    app.start_workers_early()
    from monitor.services.list_streams import flags_text, spool_flags

    out = spool_flags(app.engine, as_of=as_of, config=app.config, min_severity=severity, codes=codes, fmt=fmt,
                      progress=step_printer())
    _audit_and_echo(app, out, flags_text, "view_flags", "flags", fmt=fmt, as_of=as_of)
    if fmt != "json":
        click.echo(flags_summary(out.count, out.extra["patients"], out.extra["acknowledged"], as_of))


def flags_summary(count: int, patients: int, acknowledged: int, as_of) -> str:
    return (f"{count} flag(s) on {patients} patient(s), as of {as_of.isoformat()}"
            + (f"; {acknowledged} acknowledged" if acknowledged else ""))


FLAG_JSON_FIELDS = ["mrn", "code", "severity", "title", "evidence", "action", "sources"]


@flags.command("ack")
@click.argument("mrn")
@click.argument("code")
@click.option("--note", required=True, help="What was decided (kept with the acknowledgement).")
@click.option("--by", metavar="NAME", help="The clinician you act for (kept beside your login).")
@as_of_option
@pass_app
def flags_ack(app, mrn, code, note, by, as_of):
    """A clinician acknowledges a flag: it stays listed and in `show`, marked acknowledged, and
    leaves the worklists and the nightly digest until its evidence changes. Audited.

    \b
    Example:
      monitor flags ack TOH-000002 mri_misread_risk --note "radiologist re-read it as TOH" --by "Dr Example" --as-of 2026-11-20
    """
    from datetime import datetime, timezone

    from monitor.services.acknowledgements import acknowledge
    from monitor.services.audit import current_actor

    as_of = app.as_of(as_of)
    rows = acknowledge(app.engine, mrn, code, note=note, actor=current_actor(), on_behalf_of=by or app.by,
                       as_of=as_of, config=app.config, now=datetime.now(timezone.utc))
    click.echo(f"Acknowledged {code.strip().lower()} for {mrn} as it reads on {as_of.isoformat()} "
               f"({len(rows)} line(s)): it leaves the worklists and the digest until its evidence changes.")


@flags.command("review")
@as_of_option
@click.option("--severity", type=click.Choice(("warn", "urgent")), default="warn", show_default=True,
              help="Only flags of at least this severity.")
@format_option()
@pass_app
def flags_review(app, as_of, severity, fmt):
    """The clinician's review list: open warn and urgent flags nobody has acknowledged as they read
    now, oldest first by the night a nightly run first saw them (urgent first on the same night).

    A flag no nightly run has seen yet counts from the --as-of date (0 days, listed last; marked
    * in the table, seen_by_run false in CSV/JSON). `monitor flags ack MRN CODE --note ...` takes
    it off the list until new evidence changes it. Audited as a view.

    \b
    Example:
      monitor flags review --as-of 2026-11-20
      monitor flags review --severity urgent --format csv > review.csv
    """
    from monitor.services.review import REVIEW_FIELDS, review_db

    as_of = app.as_of(as_of)
    rows = review_db(app.engine, as_of=as_of, config=app.config, min_severity=severity, progress=step_printer())
    app.audit("view_flag_review", "flag review list", rows=len(rows), format=fmt, as_of=as_of.isoformat(),
              severity=severity)
    if fmt != "table":
        out = rows.assign(first_seen_on=rows["first_seen_on"].map(lambda d: d.isoformat()))
        if fmt == "csv":  # the import files' booleans
            out = out.assign(seen_by_run=out["seen_by_run"].map({True: "yes", False: "no"}))
        click.echo(render(out, REVIEW_FIELDS, fmt))
        return
    shown = rows.assign(first_seen_on=[d.isoformat() + ("" if seen else "*")
                                       for d, seen in zip(rows["first_seen_on"], rows["seen_by_run"])])
    if len(rows):
        click.echo(render(shown, REVIEW_FIELDS[:-1], "table"))
    unseen = int((~rows["seen_by_run"].astype(bool)).sum())
    click.echo(f"{len(rows)} flag(s) waiting for review on {rows['mrn'].nunique()} patient(s), as of "
               f"{as_of.isoformat()}" + (f"; * {unseen} not yet seen by a nightly run" if unseen else "")
               + ". Acknowledge with: monitor flags ack MRN CODE --note TEXT")


@click.command()
@click.argument("mrn")
@as_of_option
@pass_app
def show(app, mrn, as_of):
    """One patient: history, DXA due status and flags.

    \b
    Example:
      monitor show TOH-000042
    """
    from monitor.services.patient_view import describe_patient

    text = describe_patient(app.engine, mrn, as_of=app.as_of(as_of), config=app.config)
    app.audit("view_patient", f"patient {mrn}")
    click.echo(text)
