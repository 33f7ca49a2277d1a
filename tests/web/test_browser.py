"""The web workspace in a real Chromium (Playwright), as a clerk and a clinician use it."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.web.conftest import AS_OF, PASSWORD
from tests.web.live import browser_page, chromium_missing, live_server, sign_in

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")


@pytest.fixture
def base_url(accounts):
    from monitor.config import Config
    from monitor.web.app import WebSettings, create_app

    with live_server(create_app(accounts, Config(), settings=WebSettings(as_of=AS_OF, failure_delay_s=0))) as url:
        yield url


def test_a_clerk_finds_a_patient_by_name_and_records_a_booked_scan(base_url, accounts):
    """The clerk's daily loop: find the patient on the phone, see the chart, record the booking,
    and the worklist says so."""
    with accounts.connect() as conn:
        mrn, name = conn.execute(text(
            "SELECT p.mrn, p.name FROM reminder r JOIN patient p ON p.id = r.patient_id "
            "WHERE p.name NOT LIKE '%<%' ORDER BY r.id LIMIT 1")).one()
    with browser_page() as page:
        sign_in(page, base_url, "carl", PASSWORD)
        page.fill("#q", name)
        page.locator(f"#results a:has-text('{name}')").first.click()
        page.wait_for_url(f"**/patients/{mrn}")
        chart = page.locator("img.chart")
        chart.scroll_into_view_if_needed()
        page.wait_for_function("() => document.querySelector('img.chart').naturalWidth > 0")
        page.select_option("select[name=action]", "outreach:booked")
        page.fill("input[name=booked_on]", "2026-12-03")
        page.fill("input[name=note]", "DXA on 3 Dec, 9:30")
        page.click("form.action button")
        assert page.locator(".done").inner_text() == "Recorded: Outreach: scan booked."
        page.click("nav >> text=Worklist")
        page.fill("#q", mrn)
        row = page.locator("#results tr", has_text=mrn)
        row.wait_for()
        assert "booked" in row.inner_text()


def test_a_clinician_acknowledges_an_urgent_flag_and_it_leaves_the_review_list(base_url):
    """What still needs a clinician shrinks as they decide; the decided flag is not shown again."""
    with browser_page() as page:
        sign_in(page, base_url, "cleo", PASSWORD)
        page.click("nav >> text=Review")
        first = page.locator("article.flag.urgent").first
        mrn = first.locator("small.mrn").inner_text()
        code = first.locator("input[name=code]").get_attribute("value")
        before = page.locator(f"article:has(small.mrn:text-is('{mrn}')) input[name=code][value='{code}']").count()
        first.locator("input[name=note]").fill("seen in clinic; MRI booked")
        first.locator("button:has-text('Acknowledge')").click()
        page.wait_for_url(f"**/review?done=ack&page=1&mrn={mrn}&code={code}")
        assert "has left the review list" in page.locator(".done").inner_text()
        after = page.locator(f"article:has(small.mrn:text-is('{mrn}')) input[name=code][value='{code}']").count()
        assert after == before - 1
