"""Web workspace accounts (`monitor users`) and signed-in sessions (`monitor serve`).

Passwords are argon2 hashes (argon2-cffi's PasswordHasher; rehashed on sign-in when its
parameters change). A session cookie holds a random token; the database keeps only its SHA-256,
so a copy of the database signs nobody in. Too many failed sign-ins lock the account for a while.
Every change to an account, and every sign-in and refusal, is in the audit log.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import Engine, delete, select, update

from monitor import store
from monitor.errors import MonitorError

ROLES = ("clerk", "clinician", "admin")
MIN_PASSWORD = 12
MAX_FAILURES = 5
LOCK_MINUTES = 15
USERNAME = re.compile(r"[a-z][a-z0-9._-]{0,31}")


class SignInRefused(MonitorError):
    """Wrong user name or password, a disabled or a locked account: one message for all."""


@dataclass(frozen=True)
class Account:
    username: str
    role: str
    is_disabled: bool
    created_at: datetime
    last_login_at: datetime | None
    locked_until: datetime | None


@dataclass(frozen=True)
class Session:
    """A signed-in browser: who, with which role, and the token its forms must carry."""

    account_id: int
    username: str
    role: str
    csrf_token: str

    @property
    def actor(self) -> str:
        """The audit log's actor for what this browser does: `web:alice`."""
        return f"web:{self.username}"

    def may(self, role: str) -> bool:
        """clerk < clinician < admin for the pages; an admin sees everything."""
        return ROLES.index(self.role) >= ROLES.index(role)


def _tables():
    from monitor.store.tables import WebAccount, WebSession

    return WebAccount.__table__, WebSession.__table__


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_username(username: str) -> str:
    if not USERNAME.fullmatch(username or ""):
        raise MonitorError("a user name is 1 to 32 characters: lower-case letters, digits, '.', '_' or '-', "
                           "starting with a letter")
    return username


def check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise MonitorError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise MonitorError("a password is at most 1024 characters")
    return password


def new_password() -> str:
    """A random password of 20 characters (letters and digits), for an admin to hand over."""
    return secrets.token_urlsafe(15)


def add_account(engine: Engine, username: str, *, role: str, password: str, actor: str, now: datetime) -> None:
    accounts, _ = _tables()
    check_username(username)
    if role not in ROLES:
        raise MonitorError(f"role must be one of {', '.join(ROLES)}")
    hashed = _hasher().hash(check_password(password))
    with store.transaction(engine) as conn:
        if conn.execute(select(accounts.c.id).where(accounts.c.username == username)).first():
            raise MonitorError(f"there is already an account '{username}' (`monitor users passwd` changes its password)")
        conn.execute(accounts.insert(), {"username": username, "role": role, "password_hash": hashed,
                                         "is_disabled": False, "created_at": now, "created_by": actor,
                                         "password_changed_at": now, "failed_logins": 0})
        store.record_event(conn, actor=actor, action="account_add", subject=f"web account {username}",
                           detail={"role": role})


def _require(conn, username: str):
    accounts, _ = _tables()
    row = conn.execute(select(accounts).where(accounts.c.username == username)).first()
    if row is None:
        raise MonitorError(f"no account '{username}' (`monitor users list` shows them)")
    return row


def set_password(engine: Engine, username: str, *, password: str, actor: str, now: datetime) -> None:
    """A new password; the account's sessions end and a lock from failed sign-ins is lifted."""
    accounts, sessions = _tables()
    hashed = _hasher().hash(check_password(password))
    with store.transaction(engine) as conn:
        row = _require(conn, username)
        conn.execute(update(accounts).where(accounts.c.id == row.id).values(
            password_hash=hashed, password_changed_at=now, failed_logins=0, locked_until=None))
        conn.execute(delete(sessions).where(sessions.c.account_id == row.id))
        store.record_event(conn, actor=actor, action="account_passwd", subject=f"web account {username}")


def disable_account(engine: Engine, username: str, *, actor: str) -> None:
    """The account can no longer sign in and its open sessions end now; the row stays (audit)."""
    accounts, sessions = _tables()
    with store.transaction(engine) as conn:
        row = _require(conn, username)
        conn.execute(update(accounts).where(accounts.c.id == row.id).values(is_disabled=True))
        ended = conn.execute(delete(sessions).where(sessions.c.account_id == row.id)).rowcount
        store.record_event(conn, actor=actor, action="account_disable", subject=f"web account {username}",
                           detail={"sessions_ended": ended})


def list_accounts(engine: Engine) -> list[Account]:
    accounts, _ = _tables()
    with store.reading(engine) as conn:
        rows = conn.execute(select(accounts).order_by(accounts.c.username)).all()
    return [Account(r.username, r.role, bool(r.is_disabled), r.created_at, r.last_login_at, r.locked_until)
            for r in rows]


def _aware(value: datetime | None, like: datetime) -> datetime | None:
    """SQLite hands back what was stored as UTC; compare like with like."""
    if value is None or value.tzinfo is not None or like.tzinfo is None:
        return value
    return value.replace(tzinfo=like.tzinfo)


def sign_in(engine: Engine, username: str, password: str, *, now: datetime) -> str:
    """Check a user name and password; a new session's token (for the cookie), or SignInRefused.

    The same refusal for an unknown name, a wrong password, a disabled or a locked account, so the
    page tells an attacker nothing. MAX_FAILURES failures in a row lock the account LOCK_MINUTES."""
    from argon2.exceptions import InvalidHashError, VerificationError

    accounts, sessions = _tables()
    hasher = _hasher()
    refused = SignInRefused("wrong user name or password, or the account is locked or disabled")
    with store.reading(engine) as conn:
        row = conn.execute(select(accounts).where(accounts.c.username == (username or "")[:64])).first()
    if row is None:
        try:  # spend the same time as for a real account
            hasher.verify(_dummy_hash(), password or "")
        except (VerificationError, InvalidHashError):
            pass
        store_refusal(engine, actor="web", detail={"reason": "unknown user"})
        raise refused
    locked_until = _aware(row.locked_until, now)
    if row.is_disabled or (locked_until is not None and locked_until > now):
        store_refusal(engine, actor=f"web:{row.username}",
                      detail={"reason": "disabled" if row.is_disabled else "locked"})
        raise refused
    try:
        hasher.verify(row.password_hash, password or "")
    except (VerificationError, InvalidHashError):
        failures = row.failed_logins + 1
        lock = now + timedelta(minutes=LOCK_MINUTES) if failures >= MAX_FAILURES else None
        with store.transaction(engine) as conn:
            conn.execute(update(accounts).where(accounts.c.id == row.id).values(
                failed_logins=0 if lock else failures, locked_until=lock))
            store.record_event(conn, actor=f"web:{row.username}", action="web_sign_in_refused",
                               subject="web sign-in", detail={"reason": "wrong password",
                                                              "locked_minutes": LOCK_MINUTES if lock else 0})
        raise refused
    token = secrets.token_urlsafe(32)
    values = {"failed_logins": 0, "locked_until": None, "last_login_at": now}
    if hasher.check_needs_rehash(row.password_hash):
        values["password_hash"] = hasher.hash(password)
    with store.transaction(engine) as conn:
        conn.execute(update(accounts).where(accounts.c.id == row.id).values(**values))
        conn.execute(sessions.insert(), {"token_hash": _token_hash(token), "account_id": row.id,
                                         "csrf_token": secrets.token_urlsafe(32), "created_at": now,
                                         "last_seen_at": now})
        store.record_event(conn, actor=f"web:{row.username}", action="web_sign_in", subject="web sign-in")
    return token


def store_refusal(engine: Engine, *, actor: str, detail: dict) -> None:
    with store.transaction(engine) as conn:
        store.record_event(conn, actor=actor, action="web_sign_in_refused", subject="web sign-in", detail=detail)


def session_for(engine: Engine, token: str | None, *, now: datetime, idle: timedelta,
                absolute: timedelta) -> Session | None:
    """The signed-in account of a cookie's token; None (and the session deleted) when it is
    unknown, idle too long, too old, or its account is disabled. Touched at most once a minute."""
    if not token or len(token) > 128:
        return None
    accounts, sessions = _tables()
    digest = _token_hash(token)
    with store.reading(engine) as conn:
        row = conn.execute(select(sessions.c.id, sessions.c.created_at, sessions.c.last_seen_at, sessions.c.csrf_token,
                                  accounts.c.id.label("account_id"), accounts.c.username, accounts.c.role,
                                  accounts.c.is_disabled)
                           .join(accounts, accounts.c.id == sessions.c.account_id)
                           .where(sessions.c.token_hash == digest)).first()
    if row is None:
        return None
    created, seen = _aware(row.created_at, now), _aware(row.last_seen_at, now)
    if row.is_disabled or now - seen > idle or now - created > absolute:
        with store.transaction(engine) as conn:
            conn.execute(delete(sessions).where(sessions.c.id == row.id))
        return None
    if now - seen > timedelta(minutes=1):
        with store.transaction(engine) as conn:
            conn.execute(update(sessions).where(sessions.c.id == row.id).values(last_seen_at=now))
    return Session(row.account_id, row.username, row.role, row.csrf_token)


def sign_out(engine: Engine, token: str | None) -> None:
    if not token:
        return
    _, sessions = _tables()
    with store.transaction(engine) as conn:
        conn.execute(delete(sessions).where(sessions.c.token_hash == _token_hash(token)))


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash of a random password nobody knows: verified against when the user name is unknown."""
    return _hasher().hash(secrets.token_urlsafe(32))
