"""`monitor users`: accounts made, changed and disabled from the command line, audited (SQLite and PostgreSQL)."""

from __future__ import annotations

from click.testing import CliRunner

from monitor.cli.main import main


def users(db_url: str, *args: str, stdin: str | None = None):
    return CliRunner(env={"LOGNAME": "admin1", "USER": "admin1"}).invoke(main, ["--db", db_url, "users", *args],
                                                                         input=stdin)


def test_add_list_passwd_disable(db_url):
    """An admin can give, reset and withdraw web access without touching the database by hand."""
    added = users(db_url, "add", "alice", "--role", "clerk", "--password-stdin", stdin="a long enough secret\n")
    assert added.exit_code == 0 and added.output == "Added clerk account 'alice'.\n"
    listed = users(db_url, "list")
    assert "alice  clerk  active" in listed.output and "1 account(s)" in listed.output
    reset = users(db_url, "passwd", "alice", "--random-password")
    assert reset.exit_code == 0 and "Password (shown once): " in reset.output
    assert users(db_url, "disable", "alice").exit_code == 0
    assert "alice  clerk  disabled" in users(db_url, "list").output
    from monitor.services.audit import audit_events
    from monitor.store import make_engine

    events = audit_events(make_engine(db_url))
    assert events.loc[events["action"].str.startswith("account_"), ["actor", "action"]].values.tolist() == [
        ["admin1", "account_add"], ["admin1", "account_passwd"], ["admin1", "account_disable"]]


def test_prompted_password_is_asked_twice_and_hashed(db_url):
    """Typed passwords are confirmed, and only an argon2 hash is stored."""
    result = users(db_url, "add", "bob", "--role", "clinician", stdin="twelve chars ok\ntwelve chars ok\n")
    assert result.exit_code == 0, result.output
    from sqlalchemy import text

    from monitor.store import make_engine

    with make_engine(db_url).connect() as conn:
        stored = conn.execute(text("SELECT password_hash FROM web_account WHERE username = 'bob'")).scalar()
    assert stored.startswith("$argon2id$") and "twelve" not in stored


def test_bad_input_is_an_error_not_a_traceback(db_url):
    """A short password, a duplicate or unknown account, a bad name: `Error: …`, exit 1."""
    assert users(db_url, "add", "carol", "--role", "admin", "--random-password").exit_code == 0
    cases = [
        (("add", "dave", "--role", "clerk", "--password-stdin"), "short\n", "at least 12 characters"),
        (("add", "carol", "--role", "clerk", "--random-password"), None, "already an account 'carol'"),
        (("add", "Bad Name", "--role", "clerk", "--random-password"), None, "a user name is 1 to 32"),
        (("passwd", "nobody", "--random-password"), None, "no account 'nobody'"),
        (("disable", "nobody"), None, "no account 'nobody'"),
    ]
    for args, stdin, message in cases:
        result = users(db_url, *args, stdin=stdin)
        assert result.exit_code == 1 and f"Error: " in result.output and message in result.output, result.output
        assert "Traceback" not in result.output
