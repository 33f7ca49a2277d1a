"""The clinician review list, the clinic overview, downloads, and the accounts page (admin)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from monitor.web.auth import as_of, page, role

router = APIRouter()


REVIEW_PAGE_SIZE = 50


@router.get("/review")
def review(request: Request, done: str = "", page_no: int = Query(1, alias="page"), mrn: str = "", code: str = "",
           session=Depends(role("clinician"))):
    which = f" ({mrn} {code})" if mrn and code else ""
    message = (f"Flag acknowledged{which}: it has left the review list until its evidence changes."
               if done == "ack" else "")
    return review_list_page(request, session, page_no, done=message)


def review_list_page(request: Request, session, page_no: int, *, done: str = "", error: str = "",
                     failed: dict | None = None, status_code: int = 200):
    """A page of the review list; after a refused acknowledgement (`error`), `failed` names the
    flag (mrn, code) and keeps the decision the clinician typed, so nothing they wrote is lost."""
    from monitor.services.web_views import record_web_access, review_page

    state = request.app.state
    shown, total = review_page(state.engine, as_of=as_of(request), config=state.config, page=page_no,
                               size=REVIEW_PAGE_SIZE)
    pages = max(1, -(-total // REVIEW_PAGE_SIZE))
    page_no = min(max(1, page_no), pages)
    record_web_access(state.engine, actor=session.actor, action="view_review", subject="web review list",
                      rows=len(shown), detail={"page": page_no})
    return page(request, "review.html", {"rows": shown, "total": total, "page": page_no, "pages": pages,
                                         "as_of": as_of(request), "done": done, "error": error,
                                         "failed": failed or {}}, status_code)


@router.get("/clinic")
def clinic(request: Request, _session=Depends(role("clerk"))):
    from monitor.services.web_views import clinic_overview

    state = request.app.state
    return page(request, "clinic.html", {"o": clinic_overview(state.engine, as_of=as_of(request),
                                                                 config=state.config)})


@router.get("/downloads/overdue.csv")
def overdue_csv(request: Request, session=Depends(role("clerk"))):
    from monitor.services.web_views import overdue_csv as build

    state = request.app.state
    day = as_of(request)
    data, _rows = build(state.engine, as_of=day, config=state.config, actor=session.actor)
    return Response(data, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="overdue-{day.isoformat()}.csv"'})


@router.get("/accounts")
def accounts(request: Request, _session=Depends(role("admin"))):
    from monitor.services.accounts import list_accounts

    state = request.app.state
    return page(request, "accounts.html", {"accounts": list_accounts(state.engine), "zone": state.config.zone})
