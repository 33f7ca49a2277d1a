"""The web workspace in-process (ASGI test client): sign-in, roles, CSRF, escaping, audit, actions."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from sqlalchemy import text

from tests.web.conftest import PASSWORD, SCRIPT_NAME, csrf, make_client, sign_in

MRN = "TOH-000230"  # overdue, with an open reminder, named SCRIPT_NAME by the fixture
GET_ROUTES = ["/", "/worklist", f"/patients/{MRN}", f"/patients/{MRN}/chart.svg", "/review", "/clinic",
              "/downloads/overdue.csv", "/accounts"]
POST_ROUTES = ["/worklist", f"/patients/{MRN}/reminder", f"/patients/{MRN}/acknowledge", "/sign-out"]


def audit(engine, action: str) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql_query(text("SELECT actor, action, subject, rows FROM audit_event WHERE action = :a "
                                      "ORDER BY id"), conn, params={"a": action})


@pytest.mark.parametrize("path", GET_ROUTES)
def test_every_page_sends_a_stranger_to_sign_in(accounts, path):
    """Patient data is behind a login on every page, the chart and the download included."""
    response = make_client(accounts).get(path, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/sign-in"


@pytest.mark.parametrize("path", POST_ROUTES)
def test_every_form_sends_a_stranger_to_sign_in(accounts, path):
    """No action without a session, whatever the form carries."""
    response = make_client(accounts).post(path, data={"csrf_token": "x"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/sign-in"


@pytest.mark.parametrize("user, path", [("carl", "/review"), ("carl", "/accounts"), ("cleo", "/accounts")])
def test_a_page_above_the_role_is_403(client_as, user, path):
    """A clerk does not get the clinician's review list, nor a clinician the accounts."""
    assert client_as(user).get(path).status_code == 403


def test_a_clerk_cannot_acknowledge_a_flag(client_as, accounts):
    """Acknowledging hides a flag from worklists: a clinician's decision only."""
    clerk = client_as("carl")
    response = clerk.post(f"/patients/{MRN}/acknowledge", data={"csrf_token": clerk.token, "code": "x", "note": "n"})
    assert response.status_code == 403
    assert not len(audit(accounts, "acknowledge_flag"))


@pytest.mark.parametrize("path", POST_ROUTES)
@pytest.mark.parametrize("token", [None, "wrong"])
def test_a_form_without_its_csrf_token_is_403(client_as, path, token):
    """Another site cannot make a signed-in browser record, acknowledge or sign out."""
    client = client_as("ada")
    data = {"reminder_id": "1", "action": "outreach:booked", "code": "x", "note": "n"}
    if token:
        data["csrf_token"] = token
    assert client.post(path, data=data, follow_redirects=False).status_code == 403


def test_sign_in_form_without_its_token_is_403(accounts):
    """Login CSRF: a foreign page cannot sign the browser into an account of its choosing."""
    client = make_client(accounts)
    response = client.post("/sign-in", data={"username": "ada", "password": PASSWORD, "csrf_token": "forged"})
    assert response.status_code == 403


def test_a_script_in_a_name_is_shown_as_text(client_as):
    """A name is data from another system: it must never run in a clerk's browser."""
    client = client_as("cleo")
    worklist = client.post("/worklist", data={"csrf_token": client.token, "q": "script"}).text
    patient = client.get(f"/patients/{MRN}").text
    for html in (worklist, patient):
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert SCRIPT_NAME not in html


def test_session_cookie_is_httponly_strict_and_secure_on_https(accounts):
    """The session cookie cannot be read by scripts, sent cross-site, or sent over plain HTTP from TLS."""
    for https in (False, True):
        client = make_client(accounts, https=https)
        cookie = sign_in(client, "carl").headers["set-cookie"].split(", toh_sign_in")[0]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert ("Secure" in cookie) == https


def test_views_and_downloads_are_audited_as_the_web_account(client_as, accounts):
    """Who saw which patient, and who took the overdue list, is in the audit log (actor web:NAME)."""
    client = client_as("carl")
    assert client.get(f"/patients/{MRN}").status_code == 200
    download = client.get("/downloads/overdue.csv")
    assert download.status_code == 200 and download.text.startswith("\ufeffmrn,name,status,due_date")  # BOM: Excel reads accents
    assert "attachment" in download.headers["content-disposition"]
    views = audit(accounts, "view_patient")
    assert views[["actor", "subject"]].values.tolist() == [["web:carl", f"patient {MRN}"]]
    exports = audit(accounts, "export_overdue")
    assert exports["actor"].tolist() == ["web:carl"]
    assert exports["rows"].iloc[0] == download.text.count("\n") - 1


def test_five_failures_lock_the_account(accounts):
    """Password guessing stops after five tries, even for the right password, until an admin resets it."""
    client = make_client(accounts)
    for _ in range(5):
        assert sign_in(client, "carl", "not the password!").status_code == 401
    refused = sign_in(client, "carl")
    assert refused.status_code == 401 and "locked" in refused.text
    from monitor.services.accounts import set_password

    set_password(accounts, "carl", password=PASSWORD, actor="admin", now=datetime.now(timezone.utc))
    assert sign_in(client, "carl").status_code == 303


def test_an_unknown_user_gets_the_same_refusal(accounts):
    """The sign-in page does not tell an attacker which user names exist."""
    client = make_client(accounts)
    unknown, wrong = sign_in(client, "nobody", "x" * 12), sign_in(client, "carl", "x" * 12)
    assert unknown.status_code == wrong.status_code == 401
    message = re.compile(r'role="alert">([^<]+)<')
    assert message.search(unknown.text).group(1) == message.search(wrong.text).group(1)


def test_an_idle_session_expires(client_as, accounts):
    """A workstation left signed in is signed out after the idle time."""
    client = client_as("carl")
    assert client.get("/worklist", follow_redirects=False).status_code == 200
    with accounts.begin() as conn:
        conn.execute(text("UPDATE web_session SET last_seen_at = :t"),
                     {"t": datetime.now(timezone.utc) - timedelta(minutes=31)})
    assert client.get("/worklist", follow_redirects=False).status_code == 303
    with accounts.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM web_session")).scalar() == 0


def test_a_session_ends_after_twelve_hours_however_busy(client_as, accounts):
    """The absolute limit holds even for a session used every minute."""
    client = client_as("carl")
    with accounts.begin() as conn:
        conn.execute(text("UPDATE web_session SET created_at = :t"),
                     {"t": datetime.now(timezone.utc) - timedelta(hours=12, minutes=1)})
    assert client.get("/worklist", follow_redirects=False).status_code == 303


def test_a_disabled_account_loses_its_session_and_cannot_sign_in(client_as, accounts):
    """Disabling a leaver's account takes effect now, not at their next sign-in."""
    from monitor.services.accounts import disable_account

    client = client_as("carl")
    disable_account(accounts, "carl", actor="admin")
    assert client.get("/worklist", follow_redirects=False).status_code == 303
    assert sign_in(make_client(accounts), "carl").status_code == 401


def test_sign_out_ends_the_session(client_as):
    """Signing out on a shared workstation leaves nothing usable behind."""
    client = client_as("carl")
    assert client.post("/sign-out", data={"csrf_token": client.token}, follow_redirects=False).status_code == 303
    assert client.get("/worklist", follow_redirects=False).status_code == 303


def test_search_by_name_mrn_and_birth_date(client_as, accounts):
    """Clerks find a patient the way the phone call gives it: a name, an MRN, or a birth date."""
    with accounts.connect() as conn:
        name, born = conn.execute(text("SELECT name, birth_date FROM patient WHERE mrn = 'TOH-000042'")).one()
    client = client_as("carl")
    for query in (name.split()[-1], "toh-000042", str(born)):
        html = client.post("/worklist", data={"csrf_token": client.token, "q": query, "status": "all"}).text
        assert "TOH-000042" in html, query


def test_worklist_is_most_overdue_first_and_paged(client_as):
    """The longest-waiting patients are at the top; a long list comes in pages."""
    client = client_as("carl")
    html = client.get("/worklist").text
    days = [int(d) for d in re.findall(r'<td class="num">(\d+)</td>', html)]
    assert days and days == sorted(days, reverse=True)
    assert "page 1 of" in html
    second = client.post("/worklist", data={"csrf_token": client.token, "page": "2"}, headers={
        "HX-Request": "true", "HX-Target": "results"}).text
    assert "page 2 of" in second and "<html" not in second  # the htmx partial


def test_a_booked_outreach_shows_on_the_worklist(client_as, accounts):
    """Recording the call in the browser is the same history as `monitor reminders outreach`."""
    client = client_as("carl")
    page = client.get(f"/patients/{MRN}").text
    reminder_id = re.search(r'name="reminder_id" value="(\d+)"', page).group(1)
    missing = client.post(f"/patients/{MRN}/reminder", data={"csrf_token": client.token, "reminder_id": reminder_id,
                                                             "action": "outreach:booked", "note": "DXA on 3 Dec"})
    assert missing.status_code == 422 and "give the booked appointment&#39;s date" in missing.text
    done = client.post(f"/patients/{MRN}/reminder", data={"csrf_token": client.token, "reminder_id": reminder_id,
                                                          "action": "outreach:booked", "booked_on": "2026-12-03",
                                                          "note": "DXA at 9:30"})
    assert done.status_code == 200 and "Recorded: Outreach: scan booked." in done.text
    with accounts.connect() as conn:
        row = conn.execute(text("SELECT actor, kind, outcome, reason, booked_on FROM reminder_event "
                                "ORDER BY id DESC")).first()
    assert tuple(row)[:4] == ("web:carl", "outreach", "booked", "DXA at 9:30") and str(row[4]) == "2026-12-03"
    assert "for 2026-12-03" in done.text
    html = client.post("/worklist", data={"csrf_token": client.token, "q": MRN}).text
    assert "booked 2026-11-" in html and "for 2026-12-03" in html


def test_a_clerk_assigns_a_reminder_and_finds_it_under_mine(client_as, accounts):
    """Assignment in the browser is the CLI's `reminders assign`; "Assigned to me" finds the patient."""
    client = client_as("carl")
    page = client.get(f"/patients/{MRN}").text
    reminder_id = re.search(r'name="reminder_id" value="(\d+)"', page).group(1)
    done = client.post(f"/patients/{MRN}/reminder", data={"csrf_token": client.token, "reminder_id": reminder_id,
                                                          "action": "assigned", "assignee": "web:carl",
                                                          "due_by": "2026-12-01"})
    assert done.status_code == 200 and "assigned to web:carl, work by 2026-12-01" in done.text
    mine = client.post("/worklist", data={"csrf_token": client.token, "who": "mine", "status": "all"}).text
    assert MRN in mine and mine.count('class="mrn"') == 1
    unassigned = client.post("/worklist", data={"csrf_token": client.token, "who": "unassigned"}).text
    assert f">{MRN}<" not in unassigned


def test_a_refused_action_keeps_what_was_typed(client_as):
    """Deferring without a date is refused with a reason, and the note typed is still in the form."""
    client = client_as("carl")
    page = client.get(f"/patients/{MRN}").text
    reminder_id = re.search(r'name="reminder_id" value="(\d+)"', page).group(1)
    response = client.post(f"/patients/{MRN}/reminder", data={
        "csrf_token": client.token, "reminder_id": reminder_id, "action": "deferred", "note": "abroad till May"})
    assert response.status_code == 422
    assert "give the date the reminder reopens" in response.text and 'value="abroad till May"' in response.text


def test_a_reminder_of_another_patient_is_404(client_as):
    """A form cannot be pointed at another patient's reminder."""
    client = client_as("carl")
    response = client.post("/patients/TOH-000042/reminder", data={
        "csrf_token": client.token, "reminder_id": "999999", "action": "closed", "note": "x"})
    assert response.status_code == 404


def test_an_acknowledged_urgent_flag_leaves_the_review_list(client_as, accounts):
    """The review list is what still needs a clinician; acknowledging takes a flag off it at once."""
    client = client_as("cleo")
    review = client.get("/review").text
    first = re.search(r'<article class="flag urgent">.*?action="/patients/([^"/]+)/acknowledge".*?'
                      r'name="code" value="([^"]+)"', review, flags=re.S)
    mrn, code = first.group(1), first.group(2)
    before = review.count(f'/patients/{mrn}/acknowledge')
    done = client.post(f"/patients/{mrn}/acknowledge", data={
        "csrf_token": client.token, "code": code, "note": "seen, MRI booked", "back": "review"})
    assert done.status_code == 200 and "has left the review list" in done.text
    assert done.text.count(f'/patients/{mrn}/acknowledge') == before - 1
    assert audit(accounts, "acknowledge_flag")["actor"].tolist() == ["web:cleo"]


def test_unknown_patient_is_404(client_as):
    """A mistyped MRN gets a page saying so, not an error trace."""
    assert client_as("carl").get("/patients/NOPE-1").status_code == 404


def test_logs_name_the_route_never_the_patient(client_as, caplog):
    """Access logs go to files and terminals: a name or birth date typed into search must not."""
    client = client_as("carl")
    with caplog.at_level(logging.INFO, logger="monitor.web"):
        client.post("/worklist", data={"csrf_token": client.token, "q": "1984-03-02"})
        client.get(f"/patients/{MRN}")
        client.get("/static/style.css")
        client.get(f"/static/{MRN}.css")
        client.get("/favicon.ico")
    lines = [r.getMessage() for r in caplog.records if r.name == "monitor.web"]
    assert "POST /worklist 200" in lines[0] and "GET /patients/{mrn:path} 200" in lines[1]
    assert "GET /static/style.css 200" in lines[2]  # our own file, by name
    assert "GET (no route) 404" in lines[3]  # anything else under /static: not as asked
    assert "GET /favicon.ico 204" in lines[4]  # the browser's own request: no content, no 404
    assert not any(MRN in line or "1984" in line for line in lines)


def test_clinic_and_accounts_pages(client_as):
    """The overview counts and the admin's account list render for their roles."""
    admin = client_as("ada")
    clinic = admin.get("/clinic").text
    assert "Active patients by DXA status" in clinic and "<meter" in clinic
    accounts_page = admin.get("/accounts").text
    assert all(name in accounts_page for name in ("carl", "cleo", "ada"))


def test_pages_are_not_cached_and_framing_is_refused(client_as):
    """Patient pages stay out of shared caches, and no other site can frame them."""
    response = client_as("carl").get(f"/patients/{MRN}")
    assert response.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_the_review_list_comes_in_pages_oldest_first(client_as):
    """A large clinic has thousands of waiting flags: the page shows 50 at a time, and says how many."""
    client = client_as("cleo")
    first = client.get("/review").text
    total = int(re.search(r"(\d+) flags waiting, oldest first, then urgent before warning; page 1 of (\d+)",
                          first).group(1))
    assert total > 50 and first.count('<article class="flag') == 50
    second = client.get("/review?page=2").text
    assert "page 2 of" in second and first.count("Waiting ") == 50
    assert re.findall(r'/patients/([^"/]+)/acknowledge', first) != re.findall(r'/patients/([^"/]+)/acknowledge', second)
    last = client.get("/review?page=999").text  # past the end: the last page
    assert re.search(r"page (\d+) of \1", last)


def test_the_review_list_names_each_flag_s_code_and_keeps_a_refused_decision(client_as, accounts):
    """Each waiting flag shows its code (what `monitor flags ack MRN CODE` takes). A decision
    refused (only spaces) comes back on the review page it was sent from, saying why, with what
    the clinician typed kept; an accepted one returns to that page too."""
    client = client_as("cleo")
    second = client.get("/review?page=2").text
    flag = re.search(r'<small class="code">([^<]+)</small>.*?action="/patients/([^"/]+)/acknowledge".*?'
                     r'name="code" value="([^"]+)"', second, flags=re.S)
    shown, mrn, code = flag.groups()
    assert shown == code
    refused = client.post(f"/patients/{mrn}/acknowledge", data={
        "csrf_token": client.token, "code": code, "note": "   ", "back": "review", "page": "2"})
    assert refused.status_code == 422 and "page 2 of" in refused.text
    assert f"Not acknowledged ({mrn} {code})" in refused.text and 'role="alert"' in refused.text
    assert 'value="   "' in refused.text and 'id="scans"' not in refused.text  # the review list, not the patient page
    assert audit(accounts, "acknowledge_flag").empty
    done = client.post(f"/patients/{mrn}/acknowledge", data={
        "csrf_token": client.token, "code": code, "note": "reviewed", "back": "review", "page": "2"},
        follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/review?done=ack&page=2&mrn={mrn}&code={code}"
    confirmed = client.get(done.headers["location"]).text  # says which flag, on the page it was sent from
    assert f"Flag acknowledged ({mrn} {code})" in confirmed and "page 2 of" in confirmed


def test_the_patient_page_says_why_once(client_as):
    """The due date's reason names the risk factors once, as a list, not as stored codes joined by ';'."""
    page = client_as("carl").get("/patients/TOH-000001").text  # the demo's alcohol_excess;smoking
    why = re.search(r'<p class="why">(.*?)</p>', page, flags=re.S).group(1)
    assert why.count("risk factors") == 1 and "alcohol excess, smoking" in why and ";" not in why


def test_patient_page_names_risk_factors_and_scanners_in_words(client_as):
    """Staff read words, not import codes: the "Why" line and the scans table say "alcohol excess"
    and "GE Lunar" where the records hold `alcohol_excess` and `ge_lunar`."""
    page = client_as("carl").get("/patients/TOH-000001").text
    why = re.search(r'<p class="why">(.*?)</p>', page, re.S).group(1)
    assert "alcohol excess" in why and "_" not in why
    scans = page.split('<section id="scans">', 1)[1]
    assert "<td>GE Lunar</td>" in scans and "ge_lunar" not in scans


def test_code_words_filters():
    from monitor.web.app import _labels, _words

    assert _labels("alcohol_excess;low_bmi; smoking") == "alcohol excess, low BMI, smoking"
    assert _labels("") == ""
    assert _words("12 months after the scan of 2025-01-02 (risk factors: glucocorticoids;recurrent_or_migratory_toh)") \
        == "12 months after the scan of 2025-01-02 (risk factors: glucocorticoids, recurrent or migratory TOH)"
