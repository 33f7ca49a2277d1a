"""The `monitor` command line: parse, call a service, format, map errors.

Only click and the standard library are imported at module level so `monitor --help` is
instant; pandas, SQLAlchemy and matplotlib are imported inside the commands that need them.
"""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path

import click

from monitor.errors import MonitorError

FORMATS = ("table", "csv", "json")
STATUS_CHOICES = ("not_due", "due_soon", "due", "overdue")


class AppContext:
    """What every command shares: the database URL and the clinic configuration, opened lazily."""

    def __init__(self, db: str | None, config_path: str | None):
        self.db = db
        self.config_path = config_path
        self._config = None
        self._engine = None

    @property
    def config(self):
        if self._config is None:
            from monitor.config import load_config

            self._config = load_config(self.config_path)
        return self._config

    @property
    def engine(self):
        if self._engine is None:
            from monitor.store import make_engine

            self._engine = make_engine(self.db)
        return self._engine

    def as_of(self, value: date | None) -> date:
        if value is not None:
            return value
        from monitor.services import today_in

        return today_in(self.config)


pass_app = click.make_pass_decorator(AppContext)


class MonitorGroup(click.Group):
    """A group that turns a MonitorError into `Error: ...` and its exit code, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except MonitorError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)


def as_of_option(f):
    def parse(_ctx, _param, value):
        if value is None:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise click.BadParameter(f"expected a date YYYY-MM-DD, got '{value}'") from None

    return click.option("--as-of", callback=parse, metavar="YYYY-MM-DD",
                        help="Evaluate on this date (default: today in the clinic's time zone).")(f)


def format_option(choices=FORMATS):
    return click.option("--format", "fmt", type=click.Choice(choices), default="table", show_default=True,
                        help="Output format.")


def render(rows, columns: list[str], fmt: str) -> str:
    """Rows (a DataFrame, or a list of dicts) as an aligned text table, CSV or JSON."""
    if isinstance(rows, list):
        import pandas as pd

        rows = pd.DataFrame(rows, columns=columns)
    rows = rows[columns]
    if fmt == "json":
        # pandas writes the JSON in C; json.dumps of 100,000 dicts takes seconds.
        return rows.to_json(orient="records", force_ascii=False, indent=2) if len(rows) else "[]"
    if fmt == "csv":
        from monitor.safe_files import frame_csv_bytes

        return frame_csv_bytes(rows).decode("utf-8").replace("\r\n", "\n").rstrip("\n")
    cells = [["" if v is None or v != v else str(v) for v in row] for row in rows.itertuples(index=False, name=None)]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


@click.group(cls=MonitorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar="MONITOR_DATABASE_URL", metavar="URL",
              help="Database URL (env MONITOR_DATABASE_URL; default sqlite:///monitor.db here).")
@click.option("--config", "config_path", envvar="MONITOR_CONFIG", metavar="FILE",
              type=click.Path(dir_okay=False), help="Clinic configuration, TOML (env MONITOR_CONFIG).")
@click.version_option(package_name="toh-monitor")
@click.pass_context
def main(ctx, db, config_path):
    """Surveillance after transient osteoporosis of the hip: who is due a DXA scan, and why.

    \b
    Example:
      monitor init
      monitor import patients.csv episodes.csv scans.csv
      monitor due --status overdue
      monitor export overdue -o overdue.csv
    """
    ctx.obj = AppContext(db, config_path)


@main.command()
@pass_app
def init(app):
    """Create the database, or add the tables a newer version needs.

    \b
    Example:
      monitor --db sqlite:///clinic.db init
    """
    from monitor.store import init_db

    created = init_db(app.engine)
    click.echo("Created a new database." if created else "Database is up to date.")


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
      monitor import data/demo/patients.csv data/demo/episodes.csv data/demo/scans.csv
      monitor import --dry-run new-scans.csv --kind scans
    """
    from monitor.importing import import_files
    from monitor.services import current_actor, today_in

    if rejects_dir is not None and not rejects_dir.is_dir():
        raise MonitorError(f"--rejects-dir: folder does not exist: {rejects_dir}")
    report = import_files(app.engine, list(files), today=today_in(app.config), actor=current_actor(by),
                          risk_codes=app.config.schedule.risk_factor_codes, kind=kind,
                          keep_valid=keep_valid, dry_run=dry_run, rejects_dir=rejects_dir)
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
    from monitor.services import due_rows, evaluate_db, EXPORT_COLUMNS

    evaluation = evaluate_db(app.engine, as_of=app.as_of(as_of), config=app.config, evidence=False)
    rows = due_rows(evaluation, tuple(statuses))
    columns = EXPORT_COLUMNS if fmt != "table" else [c for c in EXPORT_COLUMNS if c != "as_of"]
    click.echo(render(rows, columns, fmt))
    if fmt == "table":
        click.echo(f"{len(rows)} patient(s), as of {evaluation.as_of.isoformat()}")


@main.group()
def export():
    """Export lists for the spreadsheet."""


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
    from monitor.services import current_actor, evaluate_db, export_overdue

    evaluation = evaluate_db(app.engine, as_of=app.as_of(as_of), config=app.config, evidence=False)
    count = export_overdue(app.engine, output, evaluation=evaluation, actor=current_actor(by))
    click.echo(f"Wrote {count} patient(s) due or overdue on {evaluation.as_of.isoformat()} to {output}")


SEVERITIES = ("info", "warn", "urgent")


@main.command()
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
    from monitor.services import evaluate, evaluate_db, flag_rows, patient_history, sources_list

    as_of = app.as_of(as_of)
    if mrn:
        evaluation = evaluate(patient_history(app.engine, mrn), as_of=as_of, config=app.config)
    else:
        evaluation = evaluate_db(app.engine, as_of=as_of, config=app.config)
    rows = flag_rows(evaluation, min_severity=severity, codes=tuple(codes))
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


@main.command()
@click.argument("mrn")
@as_of_option
@pass_app
def show(app, mrn, as_of):
    """One patient: history, DXA due status and flags.

    \b
    Example:
      monitor show TOH-00042
    """
    from monitor.patient_view import describe_patient

    click.echo(describe_patient(app.engine, mrn, as_of=app.as_of(as_of), config=app.config))


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
      monitor synth --patients 10000 --seed 1 -o /tmp/cohort
    """
    from monitor.synth import generate, write_cohort

    end = _parse_date(end_on, "--end") if end_on else app.as_of(None)
    output.mkdir(parents=True, exist_ok=True)
    frames = generate(n_patients, seed=seed, end_on=end, progress=_progress_factory("Generating"))
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


@main.group()
def run():
    """Run a scheduled job once, now (the same code the daemon runs)."""


def _run_job(app, job, as_of, again, by):
    from datetime import datetime, timezone

    from monitor.jobs.nightly import run_job
    from monitor.services import current_actor

    as_of = app.as_of(as_of)
    result = run_job(app.engine, job, slot_on=as_of, as_of=as_of, config=app.config,
                     now_utc=datetime.now(timezone.utc), trigger="manual", actor=current_actor(by), again=again,
                     progress=_step_printer())
    if result.outcome == "skipped":
        click.echo(f"{result.message}; nothing to do (use --again to run it again)")
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
@click.option("--by", help="Who runs it (default: the OS user).")
@pass_app
def run_nightly(app, as_of, again, by):
    """Evaluate the cohort and write reminders and the outbox worklist, once.

    \b
    Example:
      monitor run nightly
      monitor run nightly --as-of 2026-11-20
    """
    _run_job(app, "nightly", as_of, again, by)


@run.command("clinic-report")
@as_of_option
@click.option("--again", is_flag=True, help="Run even if this slot is already done.")
@click.option("--by", help="Who runs it (default: the OS user).")
@pass_app
def run_clinic_report(app, as_of, again, by):
    """Write the clinic report into the outbox, once (the daemon does it weekly).

    \b
    Example:
      monitor run clinic-report
    """
    _run_job(app, "clinic_report", as_of, again, by)


@main.command()
@pass_app
def daemon(app):
    """Run the scheduler in the foreground (for systemd or a terminal); stop with Ctrl-C or SIGTERM.

    One daemon per database: a second one refuses to start. At start-up it serves any run missed
    while it was down (once, as of today), then runs the nightly job and the weekly clinic report
    at the times of the configuration, in the clinic's time zone.

    \b
    Example:
      monitor --config clinic.toml --db sqlite:///clinic.db daemon
    """
    import logging

    from monitor.jobs.daemon import run_daemon
    from monitor.store import require_initialised

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    require_initialised(app.engine)
    sys.exit(run_daemon(app.engine, config=app.config))


@main.command()
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


@main.group(invoke_without_command=True)
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
      monitor reminders defer 12 --until 2027-01-15 --reason "patient abroad until January"
    """
    _reminder_action(app, reminder_id, "deferred", by, reason=reason, until=_parse_date(until_on, "--until"))


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
    click.echo(events.attrs["header"])
    rows = [{"at (UTC)": str(e.at)[:19], "by": e.actor, "event": e.kind, "outcome": e.outcome or "",
             "until": "" if e.until is None or e.until != e.until else str(e.until)[:10], "note": e.reason or ""}
            for e in events.itertuples()]
    click.echo(render(rows, ["at (UTC)", "by", "event", "outcome", "until", "note"], "table"))


@main.group()
def report():
    """Per-patient BMD trend charts and clinic reports (PNG or PDF)."""


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
    from monitor.services import patient_report

    as_of = app.as_of(as_of)
    data = patient_report(app.engine, mrn, as_of=as_of, config=app.config)
    from monitor.safe_files import safe_name

    target = _report_path(output, f"patient-{safe_name(mrn)}-{as_of.isoformat()}", fmt)
    (write_patient_pdf if fmt == "pdf" else write_patient_png)(data, target)
    click.echo(f"Wrote {target}")


@report.command("clinic")
@click.option("--format", "fmt", type=click.Choice(("pdf", "png")), default="pdf", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (default: clinic-report-DATE.pdf here).")
@as_of_option
@pass_app
def report_clinic(app, fmt, output, as_of):
    """The clinic report: counts by status, overdue list, urgent and warning flags, cohort views.

    \b
    Example:
      monitor report clinic -o clinic.pdf
    """
    from monitor.reports.clinic import write_clinic_report
    from monitor.services import evaluate_db

    evaluation = evaluate_db(app.engine, as_of=app.as_of(as_of), config=app.config)
    target = _report_path(output, f"clinic-report-{evaluation.as_of.isoformat()}", fmt)
    write_clinic_report(evaluation, target, config=app.config, fmt=fmt)
    click.echo(f"Wrote {target}")


@report.command("patients")
@click.argument("mrns", nargs=-1)
@click.option("--status", "statuses", multiple=True, type=click.Choice(STATUS_CHOICES),
              help="Every active patient with this DXA status (repeatable).")
@click.option("--severity", type=click.Choice(SEVERITIES), help="Every patient with a flag of at least this severity.")
@click.option("--all", "everyone", is_flag=True, help="Every active patient.")
@click.option("--format", "fmt", type=click.Choice(("pdf", "png")), default="pdf", show_default=True)
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the files (created if missing, owner-only).")
@as_of_option
@pass_app
def report_patients(app, mrns, statuses, severity, everyone, fmt, output, as_of):
    """Reports for many patients at once, with a progress bar on a terminal.

    Files are named patient-MRN-DATE.pdf with the MRN reduced to letters, digits, - and _.

    \b
    Example:
      monitor report patients --status overdue -o reports/
      monitor report patients TOH-000009 TOH-000041 --format png -o charts/
    """
    from monitor.services import evaluate_db, select_patients, write_patient_reports

    if not (mrns or statuses or severity or everyone):
        raise MonitorError("name MRNs, or choose --status, --severity or --all")
    evaluation = evaluate_db(app.engine, as_of=app.as_of(as_of), config=app.config)
    ids = select_patients(evaluation, mrns=mrns, statuses=statuses, min_severity=severity, everyone=everyone)
    output.mkdir(parents=True, exist_ok=True)
    os.chmod(output, 0o700)
    if sys.stderr.isatty() and ids:
        with click.progressbar(length=len(ids), label="Rendering", file=sys.stderr) as bar:
            written = write_patient_reports(evaluation, ids, output, fmt=fmt, config=app.config,
                                            progress=lambda: bar.update(1))
    else:
        written = write_patient_reports(evaluation, ids, output, fmt=fmt, config=app.config)
    click.echo(f"Wrote {len(written)} {fmt.upper()} report(s) to {output}")


def _step_printer():
    """Progress lines on a terminal; quiet otherwise."""
    if not sys.stderr.isatty():
        return None
    return lambda message: click.echo(f"... {message}", err=True)


def _parse_date(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise MonitorError(f"{what}: expected a date YYYY-MM-DD, got '{value}'") from None


def _progress_factory(label: str):
    """A progress callback that draws a bar on a terminal and stays quiet otherwise."""
    if not sys.stderr.isatty():
        return None

    def progress(done: int, total: int) -> None:
        width = 30
        filled = int(width * done / max(total, 1))
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return progress


if __name__ == "__main__":  # pragma: no cover
    main()
