"""One patient: chart, scans, flags (acknowledge), reminders (record outreach / defer / close)."""

from __future__ import annotations

from datetime import date
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from monitor.errors import MonitorError, UnknownPatient
from monitor.web.auth import as_of, check_csrf, now_utc, page, role

router = APIRouter()
ACTIONS = (("outreach:contacted", "Outreach: contacted"), ("outreach:booked", "Outreach: scan booked"),
           ("outreach:unreachable", "Outreach: unreachable"), ("outreach:declined", "Outreach: declined"),
           ("outreach:scan_done_elsewhere", "Outreach: scan done elsewhere"),
           ("assigned", "Assign to a colleague"), ("deferred", "Defer until a date"), ("closed", "Close"),
           ("reopened", "Reopen"))
DONE = {"ack": "Flag acknowledged: it leaves the worklist and the review list until its evidence changes.",
        **{k: f"Recorded: {label}." for k, label in ACTIONS}}


def patient_url(mrn: str) -> str:
    return "/patients/" + quote(mrn, safe="")


def _load(request: Request, mrn: str):
    from monitor.services.web_views import patient_page

    state = request.app.state
    try:
        return patient_page(state.engine, mrn, as_of=as_of(request), config=state.config)
    except UnknownPatient:
        raise HTTPException(404) from None
    except MonitorError:  # not an MRN at all (too long)
        raise HTTPException(404) from None


def _render(request: Request, session, mrn: str, *, done: str = "", error: str = "", form: dict | None = None,
            status_code: int = 200):
    from monitor.services.web_views import record_web_access

    data = _load(request, mrn)
    record_web_access(request.app.state.engine, actor=session.actor, action="view_patient", subject=f"patient {mrn}")
    reminders = data.reminders
    live = reminders.loc[reminders["state"].isin(("open", "deferred"))] if len(reminders) else reminders
    current = live.iloc[0] if len(live) else (reminders.iloc[0] if len(reminders) else None)
    return page(request, "patient.html", {
        "p": data.report.patient, "report": data.report, "data": data, "current": current,
        "actions": ACTIONS, "done": DONE.get(done, ""), "error": error, "form": form or {},
        "url": patient_url(mrn), "zone": request.app.state.config.zone, "today": as_of(request),
    }, status_code)


@router.get("/patients/{mrn:path}/chart.svg")
def chart(request: Request, mrn: str, session=Depends(role("clerk"))):
    from monitor.services.web_views import patient_chart_svg, record_web_access

    state = request.app.state
    try:
        svg = patient_chart_svg(state.engine, mrn, as_of=as_of(request), config=state.config)
    except MonitorError:
        raise HTTPException(404) from None
    record_web_access(state.engine, actor=session.actor, action="view_patient_chart", subject=f"patient {mrn}")
    return Response(svg, media_type="image/svg+xml")


def _form_date(value: str, what: str, *, required: bool = True) -> date | None:
    """A date from a form's date field; a clear message when it is missing or not a date."""
    if not value.strip() and not required:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise MonitorError(f"give {what}") from None


@router.post("/patients/{mrn:path}/reminder")
def reminder_action(request: Request, mrn: str, session=Depends(role("clerk")), csrf_token: str = Form(""),
                    reminder_id: int = Form(0), action: str = Form(""), note: str = Form(""),
                    until: str = Form(""), booked_on: str = Form(""), assignee: str = Form(""),
                    due_by: str = Form("")):
    from monitor.services.reminders import act

    check_csrf(session, csrf_token)
    form = {"action": action, "note": note, "until": until, "booked_on": booked_on, "assignee": assignee,
            "due_by": due_by}
    data = _load(request, mrn)
    if reminder_id not in set(int(i) for i in data.reminders["reminder_id"]):
        raise HTTPException(404)
    kind, _, outcome = action.partition(":")
    try:
        if action not in dict(ACTIONS):
            raise MonitorError("choose what to record")
        until_on = _form_date(until, "the date the reminder reopens (until)") if kind == "deferred" else None
        booked = _form_date(booked_on, "the booked appointment's date") if outcome == "booked" else None
        work_by = _form_date(due_by, "the work-by date", required=False) if kind == "assigned" else None
        if kind == "assigned" and not assignee.strip():
            raise MonitorError("give the colleague's user name (assign to)")
        state = request.app.state
        act(state.engine, f"id:{reminder_id}", kind=kind, actor=session.actor, today=as_of(request),
            config=state.config, outcome=outcome or None, reason=note.strip() or None, until=until_on,
            booked_on=booked, assignee=assignee.strip() if kind == "assigned" else None, due_by=work_by)
    except MonitorError as exc:
        message = (str(exc).replace("(--reason)", "(note)").replace("--until", "the until date")
                   .replace("--on", "the booked date").replace("--due-by", "the work-by date")
                   .replace("--to", "assign to"))
        return _render(request, session, mrn, error=message, form=form, status_code=422)
    return RedirectResponse(f"{patient_url(mrn)}?done={quote(action)}#reminders", status_code=303)


@router.post("/patients/{mrn:path}/acknowledge")
def acknowledge_flag(request: Request, mrn: str, session=Depends(role("clinician")), csrf_token: str = Form(""),
                     code: str = Form(""), note: str = Form(""), back: str = Form(""),
                     page_no: int = Form(1, alias="page")):
    from monitor.services.acknowledgements import acknowledge

    check_csrf(session, csrf_token)
    state = request.app.state
    try:
        acknowledge(state.engine, mrn, code, note=note, actor=session.actor, on_behalf_of=None,
                    as_of=as_of(request), config=state.config, now=now_utc())
    except UnknownPatient:
        raise HTTPException(404) from None
    except MonitorError as exc:
        if back == "review":  # refused from the review list: shown there, on the page it was sent from
            from monitor.web.clinic import review_list_page

            return review_list_page(request, session, page_no, error=str(exc), status_code=422,
                                    failed={"mrn": mrn, "code": code, "note": note})
        return _render(request, session, mrn, error=str(exc), form={"code": code, "note": note}, status_code=422)
    if back == "review":
        # The confirmation names the flag acknowledged (a clinician works through several in a row).
        return RedirectResponse(f"/review?done=ack&page={max(1, page_no)}&mrn={quote(mrn, safe='')}"
                                f"&code={quote(code, safe='')}", status_code=303)
    return RedirectResponse(f"{patient_url(mrn)}?done=ack#flags", status_code=303)


@router.get("/patients/{mrn:path}")
def patient(request: Request, mrn: str, done: str = "", session=Depends(role("clerk"))):
    return _render(request, session, mrn, done=done)
