"""The `monitor` command line: parse, call a service, format, map errors.

Only click and the standard library are imported at module level so `monitor --help` is
instant; pandas, SQLAlchemy and matplotlib are imported inside the commands that need them.
The commands live in the modules beside this one, by area; this module holds the group.
"""

from __future__ import annotations


import click

from monitor.cli import data, demo, jobs, letters, patient_status, patients, records, reminders, reports, users, web
from monitor.cli.context import (
    AppContext,
    MonitorGroup,
    pass_app,
)


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


for command in (data.import_, patients.due, data.export, patients.flags, patients.show, demo.synth, demo.demo,
                jobs.run, jobs.daemon, jobs.jobs, reminders.reminders, reports.report, records.records,
                patient_status.patient, letters.letters, users.users, web.serve):
    main.add_command(command)


if __name__ == "__main__":  # pragma: no cover
    main()
