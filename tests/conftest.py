"""Shared fixtures: a database on SQLite always, and on PostgreSQL when a test URL is given."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PG_ENV = "MONITOR_TEST_DATABASE_URL"
REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "data" / "demo"


def _pg_url() -> str | None:
    return os.environ.get(PG_ENV) or None


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
