"""Screenshots of every page at 1366×768 (a clinic laptop), to look at: `python -m tests.web.screenshots [FOLDER]`.

Builds the demo cohort in a temporary folder, signs in as an admin, and saves one full-page PNG
per page (default folder /tmp/web-shots). Prints each page's scroll width: anything wider than
the window is a layout bug. Not run by the suite (it is for people to look at)."""

from __future__ import annotations

import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path


def main(folder: Path) -> int:
    from monitor.config import Config
    from monitor.demo.run import run_demo
    from monitor.services.accounts import add_account
    from monitor.store import make_engine
    from monitor.web.app import WebSettings, create_app
    from tests.web.conftest import AS_OF, PASSWORD
    from tests.web.live import browser_page, live_server, sign_in

    folder.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp())
    run_demo(work / "demo", as_of=None, config=Config(), echo=lambda _line: None)
    engine = make_engine(f"sqlite:///{work / 'demo' / 'monitor.db'}")
    add_account(engine, "ada", role="admin", password=PASSWORD, actor="screenshots", now=datetime.now(timezone.utc))
    too_wide = []
    with live_server(create_app(engine, Config(), settings=WebSettings(as_of=AS_OF))) as base, browser_page() as page:
        page.goto(base + "/sign-in")
        page.screenshot(path=str(folder / "01-sign-in.png"), full_page=True)
        sign_in(page, base, "ada", PASSWORD)
        mrn = page.locator("#results .mrn").first.inner_text()
        shots = [("02-worklist", "/worklist"), ("04-patient", f"/patients/{mrn}"), ("05-review", "/review"),
                 ("06-clinic", "/clinic"), ("07-accounts", "/accounts"), ("08-not-found", "/patients/NO-SUCH")]
        for name, path in shots:
            page.goto(base + path)
            if name == "04-patient":
                page.wait_for_function("() => document.querySelector('img.chart').naturalWidth > 0")
            page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
            width = page.evaluate("document.documentElement.scrollWidth")
            print(f"{name}: {path} scroll width {width}")
            if width > 1366:
                too_wide.append(name)
            if name == "02-worklist":
                page.fill("#q", "weber")
                page.wait_for_timeout(1200)
                page.screenshot(path=str(folder / "03-worklist-search.png"), full_page=True)
    print(f"screenshots in {folder}" + (f"; TOO WIDE: {', '.join(too_wide)}" if too_wide else ""))
    return 1 if too_wide else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/web-shots")))
