"""Sign-in and sign-out, the session of a request, roles, and the CSRF check of every form."""

from __future__ import annotations

import hmac
import secrets
import time
from datetime import date, datetime, timezone

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse

from monitor.errors import MonitorError
from monitor.web.app import SignInNeeded

SESSION_COOKIE = "toh_session"
SIGN_IN_COOKIE = "toh_sign_in"  # double-submit token of the sign-in form (no session yet)
router = APIRouter()


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def as_of(request: Request) -> date:
    """The evaluation date: fixed by `serve --as-of`, else today in the clinic's time zone."""
    from monitor.services.audit import today_in

    state = request.app.state
    return state.settings.as_of or today_in(state.config)


def signed_in(request: Request):
    """The request's session, or off to the sign-in page."""
    from monitor.services.accounts import session_for

    state = request.app.state
    session = session_for(state.engine, request.cookies.get(SESSION_COOKIE), now=now_utc(),
                          idle=state.settings.idle, absolute=state.settings.absolute)
    if session is None:
        raise SignInNeeded()
    request.state.session = session
    return session


def role(needed: str):
    """A dependency: a signed-in session whose role is at least `needed` (else 403)."""

    def check(session=Depends(signed_in)):
        if not session.may(needed):
            raise HTTPException(403)
        return session

    return check


def check_csrf(session, token: str) -> None:
    """Every form carries the session's token; a missing or wrong one is refused (403)."""
    if not token or not hmac.compare_digest(token.encode(), session.csrf_token.encode()):
        raise HTTPException(403)


def _secure(request: Request) -> bool:
    """https, directly or as a trusted proxy says (`--proxy-headers`, `--forwarded-allow-ips`)."""
    return request.url.scheme == "https"


def page(request: Request, name: str, context: dict, status_code: int = 200):
    return request.app.state.templates.TemplateResponse(
        request, name, {"session": getattr(request.state, "session", None), **context}, status_code=status_code)


def _sign_in_page(request: Request, *, message: str = "", username: str = "", status_code: int = 200):
    token = secrets.token_urlsafe(32)
    response = page(request, "sign_in.html", {"token": token, "message": message, "username": username},
                    status_code)
    response.set_cookie(SIGN_IN_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request),
                        path="/sign-in")
    return response


@router.get("/sign-in")
def sign_in_form(request: Request):
    return _sign_in_page(request)


@router.post("/sign-in")
def sign_in(request: Request, username: str = Form(""), password: str = Form(""), csrf_token: str = Form("")):
    from monitor.services.accounts import sign_in as check

    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    if not csrf_token or not expected or not hmac.compare_digest(csrf_token.encode(), expected.encode()):
        raise HTTPException(403)
    state = request.app.state
    try:
        token = check(state.engine, username.strip(), password, now=now_utc())
    except MonitorError as exc:
        time.sleep(state.settings.failure_delay_s)
        return _sign_in_page(request, message=str(exc), username=username[:32], status_code=401)
    response = RedirectResponse("/worklist", status_code=303)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request), path="/")
    response.delete_cookie(SIGN_IN_COOKIE, path="/sign-in")
    return response


@router.post("/sign-out")
def sign_out(request: Request, csrf_token: str = Form(""), session=Depends(signed_in)):
    from monitor.services.accounts import sign_out as end

    check_csrf(session, csrf_token)
    end(request.app.state.engine, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/")
def home(_session=Depends(signed_in)):
    return RedirectResponse("/worklist", status_code=303)
