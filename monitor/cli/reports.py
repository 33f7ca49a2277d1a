"""`monitor report`: per-patient charts and PDFs, and the clinic report."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from monitor.cli.context import (
    SEVERITIES,
    STATUS_CHOICES,
    as_of_option,
    pass_app,
    step_printer,
)
from monitor.errors import MonitorError


@click.group()
def report():
    """Per-patient BMD trend charts and clinic reports (PNG or PDF).

    \b
    Example:
      monitor report patient TOH-000042 --format png
    """


def _report_path(output: Path | None, stem: str, fmt: str) -> Path:
    return output if output is not None else Path(f"{stem}.{fmt}")


@report.command("patient")
@click.argument("mrn")
@click.option("--format", "fmt", type=click.Choice(("pdf", "png")), default="pdf", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (default: patient-MRN-DATE.pdf here, MRN reduced to safe characters).")
@as_of_option
@pass_app
def report_patient(app, mrn, fmt, output, as_of):
    """One patient's BMD trend chart (PNG), or the chart with its tables, flags and settings (PDF).

    \b
    Example:
      monitor report patient TOH-000042
      monitor report patient TOH-000042 --format png -o chart.png
    """
    from monitor.reports.patient import write_patient_pdf, write_patient_png
    from monitor.formats.files import check_target, safe_name
    from monitor.services.exports import patient_report

    as_of = app.as_of(as_of)
    target = check_target(_report_path(output, f"patient-{safe_name(mrn)}-{as_of.isoformat()}", fmt))
    data = patient_report(app.engine, mrn, as_of=as_of, config=app.config)
    (write_patient_pdf if fmt == "pdf" else write_patient_png)(data, target, record=lambda: app.audit(
        "report_patient", str(target.resolve()), rows=1, mrn=mrn, as_of=as_of.isoformat(), format=fmt))
    click.echo(f"Wrote {target}")


@report.command("clinic")
@click.option("--format", "fmt", type=click.Choice(("pdf", "png")), default="pdf", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (default: clinic-report-DATE.pdf here).")
@as_of_option
@pass_app
def report_clinic(app, fmt, output, as_of):
    """The clinic report: the manager's numbers (overdue share, median days past due, patients lost,
    reminders open, booked, deferred, declined, unreachable, closed) with their trend over the last
    eight quarters (the schedule replayed at each quarter end; also days from due date to scan,
    baseline DXA within 12 weeks of diagnosis, scans done), the overdue list with each reminder's
    state, urgent flags and unacknowledged warnings by patient.

    \b
    Example:
      monitor report clinic -o clinic.pdf
    """
    from monitor.reports.clinic import LIST_LIMIT, write_clinic_report
    from monitor.formats.files import check_target
    from monitor.services.chunks import clinic_summary

    as_of = app.as_of(as_of)
    target = check_target(_report_path(output, f"clinic-report-{as_of.isoformat()}", fmt))
    summary = clinic_summary(app.engine, as_of=as_of, config=app.config, limit=LIST_LIMIT,
                            progress=step_printer())  # a chunk of patients at a time
    write_clinic_report(summary, target, config=app.config, fmt=fmt, record=lambda: app.audit(
        "report_clinic", str(target.resolve()), rows=summary.active, as_of=as_of.isoformat(), format=fmt))
    click.echo(f"Wrote {target}")


@report.command("patients")
@click.argument("mrns", nargs=-1)
@click.option("--status", "statuses", multiple=True, type=click.Choice(STATUS_CHOICES),
              help="Every active patient with this DXA status (repeatable).")
@click.option("--severity", type=click.Choice(SEVERITIES), help="Every patient with a flag of at least this severity.")
@click.option("--all", "everyone", is_flag=True, help="Every active patient.")
@click.option("--format", "fmt", type=click.Choice(("pdf", "png")), default="pdf", show_default=True)
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="A folder for one file per patient (created if missing, owner-only), or a FILE.pdf for one "
                   "combined PDF with a bookmark per patient.")
@as_of_option
@pass_app
def report_patients(app, mrns, statuses, severity, everyone, fmt, output, as_of):
    """Reports for many patients at once, with a progress bar on a terminal.

    With -o FILE.pdf: one combined PDF, a bookmark per patient (for printing a batch). With -o FOLDER:
    one file per patient, named patient-MRN-DATE.pdf with the MRN reduced to letters, digits, - and _.

    \b
    Example:
      monitor report patients --status overdue -o reports/
      monitor report patients --severity urgent -o urgent-reports.pdf
      monitor report patients TOH-000009 TOH-000041 --format png -o charts/
    """
    from monitor.formats.files import check_target
    from monitor.services.exports import (combine_patient_reports, reports_in_batches, selected_mrns,
                                          stage_patient_reports)

    if not (mrns or statuses or severity or everyone):
        raise MonitorError("name MRNs, or choose --status, --severity or --all")
    combined = output.suffix.lower() == ".pdf"
    if combined and fmt != "pdf":
        raise MonitorError(f"{output} is a PDF file: one combined file is a PDF; for PNG charts name a folder")
    if combined:
        check_target(output)
    day = app.as_of(as_of)
    # Chosen a chunk of patients at a time; then evaluated and drawn a batch of them at a time.
    chosen = selected_mrns(app.engine, as_of=day, config=app.config, mrns=mrns, statuses=statuses,
                           min_severity=severity, everyone=everyone, progress=step_printer())
    reports = reports_in_batches(app.engine, chosen, as_of=day, fmt=fmt, config=app.config)
    write = (lambda **kw: combine_patient_reports(app.engine, reports, output, count=len(chosen), as_of=day,
                                                  config=app.config, by=app.by, **kw)) if combined else \
        (lambda **kw: len(stage_patient_reports(app.engine, reports, output, count=len(chosen), as_of=day, fmt=fmt,
                                                config=app.config, by=app.by, **kw)))
    if sys.stderr.isatty() and chosen:
        with click.progressbar(length=len(chosen), label="Rendering", file=sys.stderr) as bar:
            written = write(progress=lambda: bar.update(1))
    else:
        written = write()
    if combined:
        click.echo(f"Wrote {written} patient report(s) to {output} (one PDF, a bookmark per patient)")
    else:
        click.echo(f"Wrote {written} {fmt.upper()} report(s) to {output}")
