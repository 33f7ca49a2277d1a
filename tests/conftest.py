"""Shared fixtures: a database on SQLite always, and on PostgreSQL when a test URL is given."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

PG_ENV = "MONITOR_TEST_DATABASE_URL"
REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "data" / "demo"
# The suite runs on one pytest-xdist worker per core, a whole module to a worker (pyproject's
# addopts: `-n auto --dist loadfile --no-loadscope-reorder`). These modules take the most time
# (`--durations`), heaviest first; they are handed out first, so a long module never starts last
# and runs alone at the end (xdist's own order, by number of tests, puts them last). On this suite
# both orders took 28-29 min: the two cores are busy to the end either way. Order only: every test
# still runs, and a module left off still runs.
HEAVY_MODULES = ("tests/process/test_chunked_lists.py", "tests/process/test_help_examples.py",
                 "tests/process/test_readme_blocks.py", "tests/process/test_chunked_nightly.py",
                 "tests/integration/test_reports.py", "tests/process/test_user_failures.py",
                 "tests/property/test_import_properties.py", "tests/process/test_daemon_signals.py",
                 "tests/e2e/test_daemon.py", "tests/process/test_reminder_day.py", "tests/integration/test_demo.py")


def _pg_url() -> str | None:
    """The PostgreSQL test URL; under pytest-xdist each worker gets its own database beside it
    (`toh_monitor_test_gw0`, …), made on first use, so two workers never share tables."""
    url = os.environ.get(PG_ENV) or None
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return _worker_database(url, worker) if url and worker else url


@functools.cache
def _worker_database(url: str, worker: str) -> str:
    from sqlalchemy import create_engine, make_url

    base = make_url(url)
    name = f"{base.database}_{worker}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if conn.exec_driver_sql("SELECT 1 FROM pg_database WHERE datname = %(name)s", {"name": name}).first() is None:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def pytest_collection_modifyitems(config, items):
    """The heaviest modules first (HEAVY_MODULES), each module's tests in their own order."""
    rank = {module: place for place, module in enumerate(HEAVY_MODULES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh, initialised database URL; the PostgreSQL one is emptied before and after."""
    from monitor.store import init_db, make_engine

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'monitor.db'}"
        init_db(make_engine(url))
        yield url
        return
    url = _pg_url()
    if not url:
        pytest.skip(f"PostgreSQL tests need {PG_ENV}=postgresql+psycopg://... (not set)")
    from sqlmodel import SQLModel

    from monitor.store import tables  # noqa: F401

    engine = make_engine(url)
    SQLModel.metadata.drop_all(engine)
    init_db(engine)
    yield url
    SQLModel.metadata.drop_all(engine)
    engine.dispose()


@pytest.fixture
def engine(db_url):
    from monitor.store import make_engine

    eng = make_engine(db_url)
    yield eng
    eng.dispose()


def write_csv(path: Path, text: str) -> Path:
    """A CSV file from a dedented literal (the tests' import files)."""
    import textwrap

    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def cli_as(user: str, db_url: str, *args: str):
    """`monitor --db URL ARGS...` in-process as the OS login `user` (the audit log's actor)."""
    from click.testing import CliRunner

    from monitor.cli.main import main

    return CliRunner(env={"LOGNAME": user, "USER": user}).invoke(main, ["--db", db_url, *args],
                                                                  catch_exceptions=False)


def import_csvs(db_url: str, folder: Path, files: dict[str, str]) -> str:
    """Import CSV literals (kind -> text) through the CLI; the database URL, for a `loaded` fixture."""
    paths = [write_csv(folder / f"{kind}.csv", text) for kind, text in files.items()]
    result = cli_as("importer", db_url, "import", *map(str, paths))
    assert result.exit_code == 0, result.output
    return db_url
