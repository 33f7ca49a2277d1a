"""`monitor due`, `flags` and `show`: who is due, what is flagged, one patient whole."""

from __future__ import annotations


import click

from monitor.cli.context import (
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

    \b
    Example:
      monitor due --status due --status overdue
      monitor due --as-of 2026-01-31 --format csv > due.csv
    """
    from monitor.rules.evaluation import EXPORT_COLUMNS, due_rows
    from monitor.services.evaluation import evaluate_db

    evaluation = evaluate_db(app.engine, as_of=app.as_of(as_of), config=app.config, evidence=False,
                             progress=step_printer())
    rows = due_rows(evaluation, tuple(statuses))
    app.audit("view_due", "due list", rows=len(rows), format=fmt, as_of=evaluation.as_of.isoformat())
    columns = EXPORT_COLUMNS if fmt != "table" else [c for c in EXPORT_COLUMNS if c != "as_of"]
    click.echo(render(rows, columns, fmt))
    if fmt == "table":
        click.echo(f"{len(rows)} patient(s), as of {evaluation.as_of.isoformat()}")


@click.command()
@click.argument("mrn", required=False)
@as_of_option
@click.option("--severity", type=click.Choice(SEVERITIES), default="info", show_default=True,
              help="Only flags of at least this severity.")
@click.option("--code", "codes", multiple=True, help="Only flags with this code (repeatable).")
@format_option(("table", "json"))
@pass_app
def flags(app, mrn, as_of, severity, codes, fmt):
    """Clinical flags of every active patient (or one), each with evidence, action and sources.

    Severity is info, warn or urgent; --severity warn shows warn and urgent.

    \b
    Example:
      monitor flags --severity urgent
      monitor flags TOH-000042 --format json
    """
    from monitor.rules.evaluation import flag_rows, sources_list
    from monitor.services.evaluation import flags_db

    as_of = app.as_of(as_of)
    found, patients = flags_db(app.engine, as_of=as_of, config=app.config, mrn=mrn, progress=step_printer())
    rows = flag_rows(found, patients, min_severity=severity, codes=tuple(codes))
    app.audit("view_flags", f"patient {mrn}" if mrn else "flags", rows=len(rows), format=fmt,
              as_of=as_of.isoformat())
    if fmt == "json":
        lists = {s: sources_list(s) for s in rows["sources"].unique()}
        sources = rows["sources"].astype("object").map(lists)
        click.echo(render(rows.assign(sources=sources), list(rows.columns), "json"))
        return
    for r in rows.itertuples(index=False):
        click.echo(f"{r.mrn}  {r.severity:<6}  {r.code}: {r.title}")
        click.echo(f"    evidence: {r.evidence}")
        click.echo(f"    action:   {r.action} [sources: {r.sources}]")
    patients = rows["mrn"].nunique()
    click.echo(f"{len(rows)} flag(s) on {patients} patient(s), as of {as_of.isoformat()}")


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
