"""`monitor import` and `monitor export`: the clinic's files in, lists out."""

from __future__ import annotations

from pathlib import Path

import click

from monitor.cli.context import (
    as_of_option,
    pass_app,
    step_printer,
)
from monitor.errors import MonitorError


@click.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--kind", help="What the files hold, when their names do not say (patients, scans, ...).")
@click.option("--dry-run", is_flag=True, help="Validate and count only; write nothing.")
@click.option("--keep-valid", is_flag=True,
              help="Import the valid rows; write the rejected ones to FILE.rejects.csv with the reason.")
@click.option("--rejects-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where rejects files go (default: the current folder).")
@click.option("--by", help="Who is importing (default: the OS user).")
@click.option("--date-format", type=click.Choice(["YYYY-MM-DD", "DD/MM/YYYY", "MM/DD/YYYY"]),
              help="How the files write dates (default YYYY-MM-DD; a file with dates like 25/11/2026 "
                   "is refused with a hint until you say which order it uses).")
@pass_app
def import_(app, files, kind, dry_run, keep_valid, rejects_dir, by, date_format):
    """Load the clinic's CSV files, Excel workbooks or FHIR R4 files; all-or-nothing unless --keep-valid.

    The kind of each file is its name (patients.csv, episodes.csv, scans.csv, mri.csv,
    pregnancies.csv, symptoms.csv, assessments.csv, treatments.csv) or --kind. A workbook
    (.xlsx) holds one sheet per kind, named after it (patients, scans, ...), or a single sheet
    with --kind. A .json or .ndjson file is FHIR R4 (a Bundle, one resource, or one resource a
    line): Patient, DXA Observation, DiagnosticReport, Condition, MedicationStatement/
    MedicationRequest. Header names ignore case and blanks. Re-importing the same rows changes
    nothing; a changed row updates the record and the old value is kept in the audit log.
    A large import is split by patient and checked by [scale] import_workers processes
    (default: one per core, at most 2).

    \b
    Example:
      monitor import --dry-run data/demo/scans.csv --kind scans
      monitor import data/demo/patients.csv data/demo/episodes.csv data/demo/scans.csv
    """
    from monitor.services.importing import import_files
    from monitor.services.audit import check_by, os_user, today_in

    if rejects_dir is not None and not rejects_dir.is_dir():
        raise MonitorError(f"--rejects-dir: folder does not exist: {rejects_dir}")
    report = import_files(app.engine, list(files), today=today_in(app.config), actor=os_user(),
                          on_behalf_of=check_by(by or app.by),
                          risk_codes=app.config.schedule.risk_factor_codes, kind=kind,
                          keep_valid=keep_valid, dry_run=dry_run, rejects_dir=rejects_dir,
                          progress=step_printer(), fhir=app.config.fhir, date_format=date_format,
                          workers=app.config.scale.import_workers or None)
    verb = "would import" if report.dry_run else "imported"
    for r in report.files:
        line = (f"{r.file}: {verb} {r.rows - r.rejected} row(s): {r.inserted} new, {r.updated} updated, "
                f"{r.unchanged} unchanged")
        if r.rejected:
            line += f"; {r.rejected} rejected" + (f" -> {r.rejects_file}" if r.rejects_file else "")
        click.echo(line)
    if report.skipped:
        click.echo("FHIR resources not recorded: " + ", ".join(f"{n} {why}" for why, n in sorted(report.skipped.items())))
    if report.dry_run:
        for p in report.problems[:50]:
            click.echo(f"  {p}")
        click.echo("Dry run: nothing was written.")
    elif report.problems:
        # Some rows were kept aside: a scheduled import must notice (INTERFACE: exit 3).
        click.echo(f"{len(report.problems)} invalid value(s): those rows were not imported; see the rejects "
                   "file(s) above.", err=True)
        click.get_current_context().exit(3)


@click.group()
def export():
    """Export lists for the spreadsheet.

    \b
    Example:
      monitor export overdue -o overdue.csv
      monitor export calendar -o due.ics --as-of 2026-11-20
    """


@export.command("overdue")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The file to write: .xlsx for an Excel workbook, else CSV (created readable by you only).")
@as_of_option
@click.option("--by", help="Who is exporting (default: the OS user).")
@pass_app
def export_overdue_cmd(app, output, as_of, by):
    """The overdue-surveillance list (status due or overdue), most overdue first.

    A name ending in .xlsx gives an Excel workbook (MRNs and phones as text, dates as dates,
    header row frozen); any other name a CSV file in UTF-8 with a byte order mark, which Excel
    opens with accents intact.

    \b
    Example:
      monitor export overdue -o overdue-2026-11.csv
      monitor export overdue -o overdue-2026-11.xlsx
    """
    app.start_workers_early()
    from monitor.formats.files import check_target
    from monitor.services.exports import export_overdue_chunked

    check_target(output)  # before the work: the database, a folder, a missing folder
    as_of = app.as_of(as_of)
    count = export_overdue_chunked(app.engine, output, as_of=as_of, config=app.config, by=by or app.by,
                                   progress=step_printer())
    click.echo(f"Wrote {count} patient(s) due or overdue on {as_of.isoformat()} to {output}")


@export.command("fhir")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The FHIR JSON file to write (created readable by you only).")
@click.option("--history", is_flag=True,
              help="Instead of care gaps: every patient's recorded history (Patients, DXA Observations, "
                   "episode Conditions, MedicationStatements), to load into another database.")
@as_of_option
@click.option("--by", help="Who is exporting (default: the OS user).")
@pass_app
def export_fhir_cmd(app, output, history, as_of, by):
    """Care gaps as a FHIR R4 Bundle: per patient due soon, due or overdue, the Patient, a
    ServiceRequest for the DXA scan on its due date, and each open urgent or warn flag as a Flag.

    \b
    Example:
      monitor export fhir -o care-gaps.json
      monitor export fhir --history -o history.json
    """
    from monitor.formats.files import check_target
    from monitor.services.fhir_export import export_care_gaps_chunked, export_history_chunked

    check_target(output)
    day = app.as_of(as_of)
    if history:  # a chunk of patients at a time, too: no evaluation, the records known on the day
        count = export_history_chunked(app.engine, output, as_of=day, config=app.config, by=by or app.by,
                                       progress=step_printer())
    else:  # a chunk of patients at a time, as `due` and `export overdue`
        count = export_care_gaps_chunked(app.engine, output, as_of=day, config=app.config, by=by or app.by,
                                         progress=step_printer())
    what = "patient(s) with their history" if history else "patient(s) due soon, due or overdue"
    click.echo(f"Wrote {count} {what} on {day.isoformat()} to {output}")


@export.command("calendar")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The .ics file to write (created readable by you only).")
@as_of_option
@click.option("--status", "statuses", multiple=True, type=click.Choice(["due_soon", "due", "overdue"]),
              help="Only these statuses (repeatable; default: due_soon, due and overdue).")
@click.option("--with-names", is_flag=True, help="Put patients' names in the event titles (default: MRN only).")
@click.option("--by", help="Who is exporting (default: the OS user).")
@pass_app
def export_calendar_cmd(app, output, as_of, statuses, with_names, by):
    """Due DXA scans as an iCalendar file: one all-day event per patient.

    Each patient due soon, due or overdue gets an event on the due date ("DXA due: MRN"), with
    the reason in the description and a reminder 7 days before. A due date already passed is
    put on the export day instead ("DXA overdue since ..."). The event's UID stays the same for
    the same patient and due date, so importing a newer file updates the events instead of
    adding copies. Names only with --with-names.

    \b
    Example:
      monitor export calendar -o due.ics --as-of 2026-11-20
      monitor export calendar -o overdue.ics --status overdue --with-names
    """
    from monitor.formats.files import check_target
    from monitor.services.chunks import schedule_rows
    from monitor.services.exports import CALENDAR_STATUSES, export_calendar

    check_target(output)
    day = app.as_of(as_of)
    due = schedule_rows(app.engine, as_of=day, config=app.config, statuses=tuple(statuses) or CALENDAR_STATUSES,
                        progress=step_printer())  # a chunk of patients at a time
    count = export_calendar(app.engine, output, schedule=due, as_of=day, statuses=statuses,
                            with_names=with_names, by=by or app.by)
    click.echo(f"Wrote {count} DXA due date(s) on {day.isoformat()} to {output}")
