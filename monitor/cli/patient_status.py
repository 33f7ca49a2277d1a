"""`monitor patient discharge|reactivate|deceased|transfer MRN --reason TEXT`: status changes without a CSV.

Only click and the standard library at module level, so `monitor --help` stays instant; the use
case lives in `monitor.services.patient_status`.
"""

from __future__ import annotations

import click

from monitor.cli.context import pass_app


def _change_options(f):
    f = click.option("--by", metavar="NAME",
                     help="On whose behalf (e.g. the clinician who decided); you are recorded as the OS user.")(f)
    f = click.option("--reason", required=True, metavar="TEXT",
                     help="Why: kept with the change and in the audit log (required, not blank).")(f)
    return click.argument("mrn")(f)


@click.group()
def patient():
    """Change a patient's status: discharge, reactivate, deceased, transfer (audited, reversible).

    Only active patients are due, flagged or reminded; the next nightly run closes the open
    reminders of a patient who is no longer active. Each change keeps who, when and why, and
    `monitor show MRN` lists them; `reactivate` makes the patient active again. A later
    patients.csv import with a status cell still sets the status, as before.

    \b
    Example:
      monitor patient discharge TOH-000012 --reason "surveillance complete; GP informed"
      monitor patient reactivate TOH-000012 --reason "discharged by mistake"
    """


def _change(app, action: str, mrn: str, reason: str, by: str | None, to_place: str | None = None) -> None:
    from datetime import datetime, timezone

    from monitor.services.audit import current_actor
    from monitor.services.patient_status import change_status, describe_change

    change = change_status(app.engine, mrn, action, reason=reason, actor=current_actor(),
                           on_behalf_of=by or app.by, to_place=to_place, now=datetime.now(timezone.utc))
    click.echo(describe_change(change))


@patient.command()
@_change_options
@pass_app
def discharge(app, mrn, reason, by):
    """Discharge a patient from surveillance: no longer due, flagged or reminded.

    \b
    Example:
      monitor patient discharge TOH-000012 --reason "surveillance complete; GP informed" --by "Dr Example"
    """
    _change(app, "discharge", mrn, reason, by)


@patient.command()
@_change_options
@pass_app
def reactivate(app, mrn, reason, by):
    """Make a patient active again, from any other status: due, flagged and reminded again.

    \b
    Example:
      monitor patient discharge TOH-000012 --reason "surveillance complete"
      monitor patient reactivate TOH-000012 --reason "new hip pain; back under surveillance"
    """
    _change(app, "reactivate", mrn, reason, by)


@patient.command()
@_change_options
@pass_app
def deceased(app, mrn, reason, by):
    """Record that a patient has died: never reminded again; the history is kept.

    \b
    Example:
      monitor patient deceased TOH-000012 --reason "death notified by the GP practice"
    """
    _change(app, "deceased", mrn, reason, by)


@patient.command()
@_change_options
@click.option("--to", "to_place", metavar="TEXT", help="Where the patient goes (kept in the reason).")
@pass_app
def transfer(app, mrn, reason, by, to_place):
    """Record a transfer of care elsewhere: no longer due, flagged or reminded here.

    \b
    Example:
      monitor patient transfer TOH-000012 --to "Royal Infirmary" --reason "moved house"
    """
    _change(app, "transfer", mrn, reason, by, to_place)
