"""The worklist: patients due soon, due or overdue with their reminder, searched and paged.

The search form is POSTed (with its CSRF token), so a name or birth date never appears in a URL
or an access log; with htmx only the results are swapped in."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request

from monitor.web.auth import as_of, check_csrf, page, role

router = APIRouter()
STATUS_FILTERS = (("worklist", "Due soon, due and overdue"), ("overdue", "Overdue"), ("due", "Due"),
                  ("due_soon", "Due soon"), ("not_due", "Not due"), ("all", "All active patients"))
WHO_CHOICES = (("", "Anyone"), ("mine", "Assigned to me"), ("unassigned", "Unassigned"))
SORT_CHOICES = (("overdue", "Most overdue first"), ("due_date", "Due date"), ("name", "Name"), ("mrn", "MRN"))


def _show(request: Request, session, *, query="", status="worklist", sort="overdue", page_no=1, who=""):
    from monitor.services.web_views import record_web_access, worklist

    state = request.app.state
    if status not in dict(STATUS_FILTERS):
        status = "worklist"
    if who not in dict(WHO_CHOICES):
        who = ""
    assignee = session.actor if who == "mine" else ("" if who == "unassigned" else None)
    result = worklist(state.engine, as_of=as_of(request), config=state.config, query=query, status=status,
                      sort=sort, page=page_no, assignee=assignee)
    record_web_access(state.engine, actor=session.actor, action="view_worklist", subject="web worklist",
                      rows=len(result.rows), detail={"status": status, "searched": bool(query.strip()),
                                                     "page": result.page})
    context = {"result": result, "query": query, "status": status, "sort": sort, "who": who,
               "statuses": STATUS_FILTERS, "sorts": SORT_CHOICES, "whos": WHO_CHOICES}
    partial = request.headers.get("HX-Request") and request.headers.get("HX-Target") == "results"
    return page(request, "worklist_results.html" if partial else "worklist.html", context)


@router.get("/worklist")
def worklist_page(request: Request, session=Depends(role("clerk"))):
    return _show(request, session)


@router.post("/worklist")
def worklist_search(request: Request, session=Depends(role("clerk")), csrf_token: str = Form(""),
                    q: str = Form(""), status: str = Form("worklist"), sort: str = Form("overdue"),
                    page_no: int = Form(1, alias="page"), who: str = Form("")):
    check_csrf(session, csrf_token)
    return _show(request, session, query=q[:100], status=status, sort=sort, page_no=page_no, who=who)
