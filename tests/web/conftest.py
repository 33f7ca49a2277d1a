"""The web workspace's fixtures: the demo cohort in a SQLite file (built once), accounts, clients."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from datetime import date, datetime, timezone

import pytest

from tests.conftest import DEMO

AS_OF = date(2026, 11, 20)
SCRIPT_NAME = "<script>alert(1)</script>"
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def web_cohort_file(tmp_path_factory):
    """The demo cohort imported and through one nightly run; the most overdue patient renamed to a
    script tag (a name is whatever the clinic's system exported)."""
    from sqlalchemy import text

    from monitor.config import Config
    from monitor.jobs.nightly import NIGHTLY, run_job
    from monitor.services.importing import import_files
    from monitor.store import init_db, make_engine

    folder = tmp_path_factory.mktemp("web-cohort")
    engine = make_engine(f"sqlite:///{folder / 'monitor.db'}")
    init_db(engine)
    config = Config()
    import_files(engine, sorted(DEMO.glob("*.csv")), today=AS_OF, actor="t", risk_codes=config.schedule.risk_factor_codes)
    config = replace(config, jobs=replace(config.jobs, outbox=str(folder / "outbox"), smtp_host=None))
    run_job(engine, NIGHTLY, slot_on=AS_OF, as_of=AS_OF, config=config, now_utc=datetime.now(timezone.utc),
            trigger="manual", actor="t")
    with engine.begin() as conn:
        conn.execute(text("UPDATE patient SET name = :n WHERE mrn = 'TOH-000230'"), {"n": SCRIPT_NAME})
    engine.dispose()
    return folder / "monitor.db"


@pytest.fixture
def web_engine(web_cohort_file, tmp_path):
    from monitor.services.web_views import CACHE
    from monitor.store import make_engine

    shutil.copy(web_cohort_file, tmp_path / "monitor.db")
    CACHE.clear()
    engine = make_engine(f"sqlite:///{tmp_path / 'monitor.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def accounts(web_engine):
    """One account per role: clerk `carl`, clinician `cleo`, admin `ada`."""
    from monitor.services.accounts import add_account

    now = datetime.now(timezone.utc)
    for name, role in (("carl", "clerk"), ("cleo", "clinician"), ("ada", "admin")):
        add_account(web_engine, name, role=role, password=PASSWORD, actor="test", now=now)
    return web_engine


def make_client(engine, *, https: bool = False, **settings):
    from fastapi.testclient import TestClient

    from monitor.config import Config
    from monitor.web.app import WebSettings, create_app

    app = create_app(engine, Config(), settings=WebSettings(as_of=AS_OF, failure_delay_s=0, **settings))
    return TestClient(app, base_url="https://testserver" if https else "http://testserver")


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(client, username: str, password: str = PASSWORD):
    page = client.get("/sign-in")
    return client.post("/sign-in", data={"username": username, "password": password, "csrf_token": csrf(page.text)},
                       follow_redirects=False)


@pytest.fixture
def client_as(accounts):
    """A signed-in test client for a user name; its `.token` is the session's CSRF token."""

    def make(username: str, **settings):
        client = make_client(accounts, **settings)
        assert sign_in(client, username).status_code == 303
        client.token = csrf(client.get("/clinic").text)
        return client

    return make
