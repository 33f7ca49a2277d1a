"""`monitor users`: the web workspace's accounts (add, passwd, disable, list)."""

from __future__ import annotations

import sys

import click

from monitor.cli.context import pass_app, render

ROLE_CHOICES = ("clerk", "clinician", "admin")


def _now():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


def _password(password_stdin: bool, random_password: bool) -> tuple[str, bool]:
    """The new password: one line of stdin, a random one (printed once), or typed twice, hidden."""
    if password_stdin and random_password:
        raise click.UsageError("give --password-stdin or --random-password, not both")
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n"), False
    if random_password:
        from monitor.services.accounts import new_password

        return new_password(), True
    return click.prompt("Password (at least 12 characters)", hide_input=True, confirmation_prompt=True), False


def _password_options(f):
    f = click.option("--random-password", is_flag=True,
                     help="Make a random password and print it once (to hand over).")(f)
    return click.option("--password-stdin", is_flag=True,
                        help="Read the password from the first line of stdin (for scripts).")(f)


@click.group()
def users():
    """Accounts of the web workspace (`monitor serve`): clerk, clinician or admin.

    A clerk works the worklist and reminders; a clinician also acknowledges flags and has the
    review list; an admin also sees the accounts. Passwords are stored as argon2 hashes.

    \b
    Example:
      monitor users list
    """


@users.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLE_CHOICES), help="What the account may do.")
@_password_options
@pass_app
def users_add(app, username, role, password_stdin, random_password):
    """Add an account; the password is asked twice (hidden), unless --password-stdin or --random-password.

    \b
    Example:
      monitor users add alice --role clerk --random-password
    """
    from monitor.services.accounts import add_account
    from monitor.services.audit import current_actor

    password, show = _password(password_stdin, random_password)
    add_account(app.engine, username, role=role, password=password, actor=current_actor(app.by), now=_now())
    click.echo(f"Added {role} account '{username}'.")
    if show:
        click.echo(f"Password (shown once): {password}")


@users.command("passwd")
@click.argument("username")
@_password_options
@pass_app
def users_passwd(app, username, password_stdin, random_password):
    """Set a new password; the account's open sessions end and a sign-in lock is lifted.

    \b
    Example:
      monitor users passwd demo --random-password
    """
    from monitor.services.accounts import set_password
    from monitor.services.audit import current_actor

    password, show = _password(password_stdin, random_password)
    set_password(app.engine, username, password=password, actor=current_actor(app.by), now=_now())
    click.echo(f"New password for '{username}'; its sessions have ended.")
    if show:
        click.echo(f"Password (shown once): {password}")


@users.command("disable")
@click.argument("username")
@pass_app
def users_disable(app, username):
    """Disable an account: it cannot sign in and its open sessions end now (the row stays, for the audit log).

    \b
    Example:
      monitor users disable demo
    """
    from monitor.services.accounts import disable_account
    from monitor.services.audit import current_actor

    disable_account(app.engine, username, actor=current_actor(app.by))
    click.echo(f"Disabled '{username}'; its sessions have ended.")


@users.command("list")
@pass_app
def users_list(app):
    """Every account with its role, whether it is disabled or locked, and its last sign-in.

    \b
    Example:
      monitor users list
    """
    from monitor.rules.clock_text import local_text
    from monitor.services.accounts import list_accounts

    now = _now()
    rows = [{"user": a.username, "role": a.role,
             "state": "disabled" if a.is_disabled else (
                 "locked" if a.locked_until is not None and _utc(a.locked_until) > now else "active"),
             "created": local_text(a.created_at, app.config.zone),
             "last sign-in": local_text(a.last_login_at, app.config.zone) if a.last_login_at else ""}
            for a in list_accounts(app.engine)]
    click.echo(render(rows, ["user", "role", "state", "created", "last sign-in"], "table"))
    click.echo(f"{len(rows)} account(s)")


def _utc(value):
    from datetime import timezone

    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
