"""`monitor letters`: recall letters for patients who asked to be reached by post."""

from __future__ import annotations

from pathlib import Path

import click

from monitor.cli.context import as_of_option, pass_app, step_printer


@click.command("letters")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The PDF file to write (created readable by you only).")
@as_of_option
@click.option("--by", help="Who is printing the letters (default: the OS user).")
@pass_app
def letters(app, output, as_of, by):
    """Recall letters as one PDF, one A4 page per patient, ready to print and post.

    A letter goes to every active patient whose DXA scan is due or overdue and whose preferred
    contact is `letter`, to the address recorded for them. The text comes from a template the
    clinic can edit ([letters] template in the config; clinic_name, clinic_address and
    clinic_phone fill in the clinic's details). Which patients got a letter is kept in the
    audit log.

    \b
    Example:
      monitor letters -o letters.pdf --as-of 2026-11-20
    """
    from monitor.formats.files import check_target
    from monitor.services.chunks import schedule_rows
    from monitor.services.exports import write_letters

    check_target(output)
    day = app.as_of(as_of)
    due = schedule_rows(app.engine, as_of=day, config=app.config, statuses=("due", "overdue"),
                        progress=step_printer())  # a chunk of patients at a time
    count, missing = write_letters(app.engine, output, schedule=due, as_of=day, config=app.config, by=by or app.by)
    click.echo(f"Wrote {count} recall letter(s) for {day.isoformat()} to {output}")
    if not (app.config.letters.clinic_phone or app.config.letters.clinic_address):
        click.echo("Warning: the letters give no clinic telephone or address; set clinic_phone and "
                   "clinic_address under [letters] in the clinic's config", err=True)
    if missing:
        click.echo(f"{len(missing)} patient(s) prefer a letter but have no address recorded: "
                   f"{', '.join(missing)}", err=True)
