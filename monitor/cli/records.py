"""`monitor records retract|restore|list`: correcting the record without deleting it.

Only click and the standard library (and the import spec's code lists) at module level, so
`monitor --help` stays instant; the use case lives in `monitor.services.records`.
"""

from __future__ import annotations

import click

from monitor.cli.context import format_option, pass_app
from monitor.formats.import_spec import SPECS

KINDS = tuple(kind for kind in SPECS if kind != "patients")


def _reason(_ctx, _param, value: str) -> str:
    if not value.strip():
        raise click.BadParameter("say why (it must not be blank)")
    return value.strip()


def _change_options(f):
    f = click.option("--by", metavar="NAME",
                     help="On whose behalf (e.g. the clinician who asked); you are recorded as the OS user.")(f)
    f = click.option("--reason", required=True, callback=_reason, metavar="TEXT",
                     help="Why: kept with the record and in the audit log (required).")(f)
    f = click.argument("key", nargs=-1, required=True)(f)
    f = click.argument("mrn")(f)
    return click.argument("kind", metavar="KIND", type=click.Choice(KINDS, case_sensitive=False))(f)


@click.group()
def records():
    """Correct the record: retract a wrong record, or restore it; nothing is deleted.

    A retracted record stays in the database and in `monitor show`, marked with who retracted
    it, when and why; the schedule, flags, trends, reports and the nightly run ignore it.
    KEY is the record's natural key in the import file's terms, after the MRN:

    \b
      episodes     JOINT SIDE ONSET_DATE
      scans        SCAN_DATE [SITE [SIDE]]   (a date alone: every site of that scan)
      mri          STUDY_DATE JOINT SIDE
      pregnancies  EXPECTED_DELIVERY          (or the delivery date when none was expected)
      symptoms     REPORTED_ON COMPLAINT [SIDE]
      assessments  ASSESSED_ON
      treatments   DRUG STARTED_ON

    \b
    Example:
      monitor records retract episodes TOH-000002 hip right 2023-04-25 --reason "onset typed wrong"
      monitor records list TOH-000002
    """


@records.command()
@_change_options
@pass_app
def retract(app, kind, mrn, key, reason, by):
    """Mark a record wrong: kept and shown, ignored by every rule; audited.

    To correct a value of the key (a mistyped onset date), import the right row, then retract
    the wrong one. A changed value outside the key is corrected by importing the row again.

    \b
    Example:
      monitor records retract episodes TOH-000002 hip right 2023-04-25 --reason "onset typed wrong; real onset 2023-04-28" --by "Dr Example"
      monitor records retract scans TOH-000002 2025-06-19 --reason "scan of another patient"
    """
    _change(app, "retract", kind, mrn, key, reason, by)


@records.command()
@_change_options
@pass_app
def restore(app, kind, mrn, key, reason, by):
    """Undo a retraction: the record counts again in every rule; audited.

    \b
    Example:
      monitor records retract scans TOH-000002 2025-06-19 --reason "scan of another patient"
      monitor records restore scans TOH-000002 2025-06-19 --reason "it was his scan after all"
    """
    _change(app, "restore", kind, mrn, key, reason, by)


def _change(app, action: str, kind: str, mrn: str, key, reason: str, by: str | None) -> None:
    from datetime import datetime, timezone

    from monitor.services import records as use_case
    from monitor.services.audit import current_actor

    when = {"now": datetime.now(timezone.utc)}
    if action == "retract":  # its "already retracted (on …)" names a time: in the clinic's zone
        do, when["zone"] = use_case.retract, app.config.timezone
    else:
        do = use_case.restore
    changes = do(app.engine, kind.lower(), mrn, key, reason=reason, actor=current_actor(), on_behalf_of=by, **when)
    tail = ": kept in the history, ignored by every rule." if action == "retract" else ": it counts again in every rule."
    for c in changes:
        click.echo(f"{'Retracted' if action == 'retract' else 'Restored'} {c.kind} {mrn} {c.key_text}{tail}")


@records.command("list")
@click.argument("mrn")
@click.option("--active", is_flag=True, help="Only retractions in force (not restored).")
@format_option(("table", "json"))
@pass_app
def list_(app, mrn, active, fmt):
    """A patient's retractions, oldest first, with who, when and why (and any restore).

    \b
    Example:
      monitor records retract episodes TOH-000002 hip right 2023-04-25 --reason "onset typed wrong"
      monitor records list TOH-000002
      monitor records list TOH-000002 --format json
    """
    import json

    from monitor.services.records import patient_retractions, stamp, who

    rows = patient_retractions(app.engine, mrn, active_only=active)
    if fmt == "json":
        def when(at):
            return at.isoformat() if at else None

        click.echo(json.dumps([{
            "kind": r.kind, "record": r.key_text, "state": "retracted" if r.is_active else "restored",
            "retracted_at": when(r.retracted_at), "retracted_by": r.retracted_by, "on_behalf_of": r.on_behalf_of,
            "reason": r.reason, "restored_at": when(r.restored_at), "restored_by": r.restored_by,
            "restored_on_behalf_of": r.restored_on_behalf_of, "restore_reason": r.restore_reason,
        } for r in rows], ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo(f"No {'active ' if active else ''}retractions for {mrn}.")
        return
    click.echo(f"Retractions of {mrn} ({len(rows)}):")
    for r in rows:
        click.echo(f"  {r.kind} {r.key_text}{'' if r.is_active else ' (restored)'}")
        click.echo(f"      retracted {stamp(r.retracted_at, app.config.zone)} by {who(r.retracted_by, r.on_behalf_of)}: {r.reason}")
        if not r.is_active:
            click.echo(f"      restored {stamp(r.restored_at, app.config.zone)} by "
                       f"{who(r.restored_by, r.restored_on_behalf_of)}: {r.restore_reason}")

