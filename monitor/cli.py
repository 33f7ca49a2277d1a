"""The `monitor` command line: parse, call a service, format, map errors.

Only click and the standard library are imported at module level so `monitor --help` is
instant; pandas, SQLAlchemy and matplotlib are imported inside the commands that need them.
The job and report commands live in `cli_jobs` and `cli_reports`.
"""

from __future__ import annotations

from pathlib import Path

import click

from monitor import cli_jobs, cli_records, cli_reports
from monitor.cli_common import (
    SEVERITIES,
    STATUS_CHOICES,
    AppContext,
    MonitorGroup,
    as_of_option,
    format_option,
    parse_date,
    pass_app,
    progress_factory,
    render,
    step_printer,
)
from monitor.errors import MonitorError


@click.group(cls=MonitorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar="MONITOR_DATABASE_URL", metavar="URL",
              help="Database URL (env MONITOR_DATABASE_URL; default sqlite:///monitor.db here).")
@click.option("--config", "config_path", envvar="MONITOR_CONFIG", metavar="FILE",
              type=click.Path(dir_okay=False), help="Clinic configuration, TOML (env MONITOR_CONFIG).")
@click.option("--by", metavar="NAME", envvar="MONITOR_ON_BEHALF_OF",
              help="On whose behalf you work (kept in the audit log beside your login).")
@click.version_option(package_name="toh-monitor")
@click.pass_context
def main(ctx, db, config_path, by):
    """Surveillance after transient osteoporosis of the hip: who is due a DXA scan, and why.

    \b
    Example:
      monitor init
      monitor import patients.csv episodes.csv scans.csv
      monitor due --status overdue
      monitor export overdue -o overdue.csv
    """
    ctx.obj = AppContext(db, config_path, by)


@main.command()
@pass_app
def init(app):
    """Create the database, or add the tables a newer version needs.

    \b
    Example:
      monitor --db sqlite:///clinic.db init
    """
    from monitor.store import upgrade_db

    created, before, now = upgrade_db(app.new_engine())
    if created:
        click.echo("Created a new database.")
    elif before != now:
        click.echo(f"Upgraded the database from schema revision {before or '0.1.0'} to {now}; every row kept.")
    else:
        click.echo("Database is up to date.")


@main.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--kind", help="What the files hold, when their names do not say (patients, scans, ...).")
@click.option("--dry-run", is_flag=True, help="Validate and count only; write nothing.")
@click.option("--keep-valid", is_flag=True,
              help="Import the valid rows; write the rejected ones to FILE.rejects.csv with the reason.")
@click.option("--rejects-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where rejects files go (default: the current folder).")
@click.option("--by", help="Who is importing (default: the OS user).")
@pass_app
def import_(app, files, kind, dry_run, keep_valid, rejects_dir, by):
    """Load the clinic's CSV files; all-or-nothing unless --keep-valid.

    The kind of each file is its name (patients.csv, episodes.csv, scans.csv, mri.csv,
    pregnancies.csv, symptoms.csv, assessments.csv, treatments.csv) or --kind. Re-importing the
    same rows changes nothing; a changed row updates the record and the old value is kept in the
    audit log.

    \b
    Example:
      monitor import --dry-run data/demo/scans.csv --kind scans
      monitor import data/demo/patients.csv data/demo/episodes.csv data/demo/scans.csv
    """
    from monitor.importing import import_files
    from monitor.services import check_by, os_user, today_in

    if rejects_dir is not None and not rejects_dir.is_dir():
        raise MonitorError(f"--rejects-dir: folder does not exist: {rejects_dir}")
    report = import_files(app.engine, list(files), today=today_in(app.config), actor=os_user(),
                          on_behalf_of=check_by(by or app.by),
                          risk_codes=app.config.schedule.risk_factor_codes, kind=kind,
                          keep_valid=keep_valid, dry_run=dry_run, rejects_dir=rejects_dir,
                          progress=step_printer())
    verb = "would import" if report.dry_run else "imported"
    for r in report.files:
        line = (f"{r.file}: {verb} {r.rows - r.rejected} row(s): {r.inserted} new, {r.updated} updated, "
                f"{r.unchanged} unchanged")
        if r.rejected:
            line += f"; {r.rejected} rejected" + (f" -> {r.rejects_file}" if r.rejects_file else "")
        click.echo(line)
    if report.dry_run:
        for p in report.problems[:50]:
            click.echo(f"  {p}")
        click.echo("Dry run: nothing was written.")
    elif report.problems:
        # Some rows were kept aside: a scheduled import must notice (INTERFACE: exit 3).
        click.echo(f"{len(report.problems)} invalid value(s): those rows were not imported; see the rejects "
                   "file(s) above.", err=True)
        click.get_current_context().exit(3)


@main.command()
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
    from monitor.services import EXPORT_COLUMNS, due_rows, evaluate_db

    evaluation = evaluate_db(app.engine, as_of=app.as_of(as_of), config=app.config, evidence=False,
                             progress=step_printer())
    rows = due_rows(evaluation, tuple(statuses))
    app.audit("view_due", "due list", rows=len(rows), format=fmt, as_of=evaluation.as_of.isoformat())
    columns = EXPORT_COLUMNS if fmt != "table" else [c for c in EXPORT_COLUMNS if c != "as_of"]
    click.echo(render(rows, columns, fmt))
    if fmt == "table":
        click.echo(f"{len(rows)} patient(s), as of {evaluation.as_of.isoformat()}")


@main.group()
def export():
    """Export lists for the spreadsheet.

    \b
    Example:
      monitor export overdue -o overdue.csv
    """


@export.command("overdue")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The CSV file to write (created readable by you only).")
@as_of_option
@click.option("--by", help="Who is exporting (default: the OS user).")
@pass_app
def export_overdue_cmd(app, output, as_of, by):
    """The overdue-surveillance list (status due or overdue) as CSV, most overdue first.

    \b
    Example:
      monitor export overdue -o overdue-2026-11.csv
    """
    from monitor.safe_files import check_target
    from monitor.services import evaluate_db, export_overdue

    check_target(output)  # before the work: the database, a folder, a missing folder
    evaluation = evaluate_db(app.engine, as_of=app.as_of(as_of), config=app.config, evidence=False,
                             progress=step_printer())
    count = export_overdue(app.engine, output, evaluation=evaluation, by=by or app.by)
    click.echo(f"Wrote {count} patient(s) due or overdue on {evaluation.as_of.isoformat()} to {output}")


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


@main.group(cls=FlagsGroup, invoke_without_command=True, subcommand_metavar="[ack MRN CODE --note TEXT]")
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
    acknowledges one.

    \b
    Example:
      monitor flags --severity urgent
      monitor flags TOH-000042 --format json
    """
    if ctx.invoked_subcommand is not None:
        return
    from monitor.services import flag_rows, flags_db, sources_list

    app = ctx.find_object(AppContext)
    as_of = app.as_of(as_of)
    found, patients = flags_db(app.engine, as_of=as_of, config=app.config, mrn=mrn, progress=step_printer())
    rows = flag_rows(found, patients, min_severity=severity, codes=tuple(codes))
    app.audit("view_flags", f"patient {mrn}" if mrn else "flags", rows=len(rows), format=fmt,
              as_of=as_of.isoformat())
    acked = rows["acknowledged_by"] != ""
    if fmt == "json":
        import json

        lists = {s: sources_list(s) for s in rows["sources"].unique()}
        out = rows.assign(sources=rows["sources"].astype("object").map(lists))
        records = json.loads(render(out, FLAG_JSON_FIELDS, "json")) if len(out) else []
        for record, is_acked, by, at in zip(records, acked, rows["acknowledged_by"], rows["acknowledged_at"]):
            if is_acked:
                record["acknowledged_by"] = by
                record["acknowledged_at"] = at.isoformat()
        click.echo(json.dumps(records, ensure_ascii=False, indent=2))
        return
    for r, is_acked in zip(rows.itertuples(index=False), acked):
        click.echo(f"{r.mrn}  {r.severity:<6}  {r.code}: {r.title}" + ("  [acknowledged]" if is_acked else ""))
        click.echo(f"    evidence: {r.evidence}")
        click.echo(f"    action:   {r.action} [sources: {r.sources}]")
        if is_acked:
            click.echo(f"    acknowledged by {r.acknowledged_by} at {r.acknowledged_at:%Y-%m-%d %H:%M} UTC: "
                       f"{r.acknowledged_note}")
    patients = rows["mrn"].nunique()
    click.echo(f"{len(rows)} flag(s) on {patients} patient(s), as of {as_of.isoformat()}"
               + (f"; {int(acked.sum())} acknowledged" if acked.any() else ""))


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

    from monitor.acknowledgements import acknowledge
    from monitor.services import current_actor

    as_of = app.as_of(as_of)
    rows = acknowledge(app.engine, mrn, code, note=note, actor=current_actor(), on_behalf_of=by or app.by,
                       as_of=as_of, config=app.config, now=datetime.now(timezone.utc))
    click.echo(f"Acknowledged {code.strip().lower()} for {mrn} as it reads on {as_of.isoformat()} "
               f"({len(rows)} line(s)): it leaves the worklists and the digest until its evidence changes.")


@main.command()
@click.argument("mrn")
@as_of_option
@pass_app
def show(app, mrn, as_of):
    """One patient: history, DXA due status and flags.

    \b
    Example:
      monitor show TOH-000042
    """
    from monitor.patient_view import describe_patient

    text = describe_patient(app.engine, mrn, as_of=app.as_of(as_of), config=app.config)
    app.audit("view_patient", f"patient {mrn}")
    click.echo(text)


@main.command()
@click.option("--patients", "n_patients", type=click.IntRange(1, 2_000_000), default=300, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--end", "end_on", metavar="YYYY-MM-DD", help="Last day of the synthetic history (default: today).")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the CSV files (created if missing).")
@pass_app
def synth(app, n_patients, seed, end_on, output):
    """Write a synthetic TOH cohort as import CSVs of every kind (deterministic for a seed).

    \b
    Example:
      monitor synth --patients 10000 --seed 1 -o cohort
    """
    from monitor.synth import generate, write_cohort

    end = parse_date(end_on, "--end") if end_on else app.as_of(None)
    output.mkdir(parents=True, exist_ok=True)
    frames = generate(n_patients, seed=seed, end_on=end, progress=progress_factory("Generating"))
    counts = write_cohort(frames, output)
    click.echo(f"Wrote {output}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@main.command()
@click.option("-o", "--output", default="demo-output", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Folder for the demo's database and files.")
@as_of_option
@pass_app
def demo(app, output, as_of):
    """Load the bundled synthetic cohort into a fresh database and run every job on it.

    The evaluation date defaults to the day the bundled cohort ends, so the demo reads the same
    whenever it is run.

    \b
    Example:
      monitor demo
      monitor --db sqlite:///demo-output/monitor.db due --status overdue --as-of 2026-11-20
    """
    from monitor.demo import run_demo

    run_demo(output, as_of=as_of, config=app.config, echo=click.echo)


for command in (cli_jobs.run, cli_jobs.daemon, cli_jobs.jobs, cli_jobs.reminders, cli_reports.report, cli_records.records):
    main.add_command(command)


if __name__ == "__main__":  # pragma: no cover
    main()
