"""The application factory: settings, templates, security headers, logging, error pages."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from starlette.exceptions import HTTPException

from monitor.config import Config
from monitor.rules.vocabulary import label

HERE = Path(__file__).resolve().parent
LOG = logging.getLogger("monitor.web")
CSP = ("default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")


@dataclass(frozen=True)
class WebSettings:
    """How sessions behave; `as_of` fixes the evaluation date (the demo, training), else today."""

    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)
    failure_delay_s: float = 0.5
    as_of: date | None = None


class SignInNeeded(Exception):
    """No valid session: the browser is sent to the sign-in page."""


STATIC_FILES = frozenset(p.name for p in (HERE / "static").iterdir())


def _logged_path(request: Request) -> str:
    """What the access log names: the route's template (/patients/{mrn}), or one of our own static
    files by name, never a path as requested or its query: no patient data in the logs."""
    route = request.scope.get("route")
    if route is not None:
        return getattr(route, "path", "(no route)")
    name = request.url.path.removeprefix("/static/")
    if request.url.path.startswith("/static/") and name in STATIC_FILES:
        return f"/static/{name}"
    return "(no route)"


def _labels(codes: str, sep: str = ";") -> str:
    """Codes separated by `sep` as words, separated by commas (vocabulary.label)."""
    return ", ".join(label(c.strip()) for c in str(codes).split(sep) if c.strip())


CODE_RE = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")


def _words(text: str) -> str:
    """A rule's text for a page: its codes (`alcohol_excess`) as words, `;` lists with commas."""
    return CODE_RE.sub(lambda m: label(m.group(0)), str(text).replace(";", ", "))


def templates() -> Jinja2Templates:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                             autoescape=jinja2.select_autoescape(["html"], default=True),
                             undefined=jinja2.StrictUndefined)
    from monitor.rules.clock_text import local_text

    env.filters["local"] = local_text  # {{ at | local(zone) }}: clinic time with its offset
    env.filters["labels"] = _labels  # {{ "alcohol_excess;smoking" | labels }}: alcohol excess, smoking
    env.filters["words"] = _words  # {{ reason | words }}: its codes as words, its lists with commas
    return Jinja2Templates(env=env)


def create_app(engine: Engine, config: Config, *, settings: WebSettings | None = None) -> FastAPI:
    from monitor.web import auth, clinic, patient, worklist

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.engine = engine
    app.state.config = config
    app.state.settings = settings or WebSettings()
    app.state.templates = templates()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for area in (auth, worklist, patient, clinic):
        app.include_router(area.router)

    @app.get("/favicon.ico", include_in_schema=False)
    async def no_icon():
        # Browsers ask for it on every page: "no content", not a 404 in the log each time.
        return Response(status_code=204)

    @app.middleware("http")
    async def headers_and_log(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        ms = (time.perf_counter() - started) * 1000
        response.headers["Server-Timing"] = f"app;dur={ms:.1f}"
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        LOG.info("%s %s %d %.0f ms", request.method, _logged_path(request), response.status_code, ms)
        return response

    @app.exception_handler(SignInNeeded)
    async def to_sign_in(request: Request, _exc):
        if request.headers.get("HX-Request"):
            return HTMLResponse("", status_code=200, headers={"HX-Redirect": "/sign-in"})
        return RedirectResponse("/sign-in", status_code=303)

    @app.exception_handler(HTTPException)
    async def error_page(request: Request, exc: HTTPException):
        messages = {403: "You are not allowed to do this (wrong role, or the form expired: reload the page).",
                    404: "There is nothing at this address.", 405: "Not allowed here."}
        return app.state.templates.TemplateResponse(
            request, "error.html", {"session": getattr(request.state, "session", None),
                                    "status": exc.status_code, "message": messages.get(exc.status_code, exc.detail)},
            status_code=exc.status_code)

    return app
