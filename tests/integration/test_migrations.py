"""Upgrading a clinic's 0.1.0 database: `monitor init` keeps every row and the answers stay the same.

The fixtures in tests/fixtures/v0_1_0 were made by 0.1.0's own code (see make.py there): a
SQLite file and a PostgreSQL dump with a row in every table."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from monitor.config import Config
from monitor.errors import DatabaseError
from monitor.services.importing import import_files
from monitor.services.evaluation import evaluate_db, flags_db
from monitor.rules.evaluation import flag_rows
from monitor.store import REVISIONS, SCHEMA_REVISION, init_db, make_engine, require_initialised, upgrade_db
from tests.conftest import PG_ENV, _pg_url

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "v0_1_0"
AS_OF = date(2026, 11, 20)
TABLES_0_1_0 = ("patient", "episode", "dxa_measurement", "mri_study", "pregnancy", "symptom", "assessment",
                "treatment", "audit_event", "schema_info", "job_run", "job_completion", "reminder", "reminder_event")
KINDS = ("patients", "episodes", "scans", "mri", "pregnancies", "symptoms", "assessments", "treatments")


def rows(engine, columns: dict[str, list[str]] | None = None) -> dict[str, list[tuple]]:
    """Every row of the 0.1.0 tables (only the given columns: a newer nullable column is not a change)."""
    with engine.connect() as conn:
        return {t: [tuple(r) for r in conn.execute(text(
                    f"SELECT {', '.join(columns[t]) if columns else '*'} FROM {t} ORDER BY id"))] for t in TABLES_0_1_0}


def columns_of(engine) -> dict[str, list[str]]:
    return {t: [c["name"] for c in inspect(engine).get_columns(t)] for t in TABLES_0_1_0}


def answers(engine) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What staff see: the due list and the flags, without the internal patient ids."""
    config = Config()
    schedule = evaluate_db(engine, as_of=AS_OF, config=config).schedule.drop(columns="patient_id")
    found, patients = flags_db(engine, as_of=AS_OF, config=config)
    return schedule.reset_index(drop=True), flag_rows(found, patients).reset_index(drop=True)


def fresh_answers(url: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same files imported into a database made by this version."""
    engine = make_engine(url)
    init_db(engine)
    import_files(engine, [FIXTURES / f"{k}.csv" for k in KINDS], today=AS_OF, actor="t",
                 risk_codes=Config().schedule.risk_factor_codes)
    return answers(engine)


def check_upgrade(engine, fresh_url: str) -> None:
    before, old_columns = rows(engine), columns_of(engine)
    assert sum(map(len, before.values())) > 1000 and all(before.values()), "a row in every table"
    with pytest.raises(DatabaseError, match="older version .*run `monitor init` to upgrade it"):
        require_initialised(engine)
    assert upgrade_db(engine) == (False, None, SCHEMA_REVISION)
    require_initialised(engine)
    assert rows(engine, old_columns) == before
    assert inspect(engine).has_table("retraction")
    due, flags = answers(engine)
    fresh_due, fresh_flags = fresh_answers(fresh_url)
    pd.testing.assert_frame_equal(due.drop(columns=["name"]), fresh_due.drop(columns=["name"]))
    pd.testing.assert_frame_equal(flags, fresh_flags)
    assert upgrade_db(engine) == (False, SCHEMA_REVISION, SCHEMA_REVISION)  # a second init changes nothing
    assert rows(engine, old_columns) == before


def test_a_0_1_0_sqlite_database_upgrades_with_every_row(tmp_path):
    """A clinic on 0.1.0 upgrades in place: every patient, scan, reminder and audit row stays."""
    shutil.copy(FIXTURES / "monitor.db", tmp_path / "monitor.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'monitor.db'}")
    check_upgrade(engine, f"sqlite:///{tmp_path / 'fresh.db'}")


@pytest.fixture
def pg_admin():
    url = _pg_url()
    if not url:
        pytest.skip(f"PostgreSQL tests need {PG_ENV}=postgresql+psycopg://... (not set)")
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    made = []

    def database(name: str) -> str:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
        made.append(name)
        return make_url(url).set(database=name).render_as_string(hide_password=False)

    yield database
    for name in made:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


def test_a_0_1_0_postgresql_database_upgrades_with_every_row(pg_admin):
    """The same upgrade on a clinic's PostgreSQL server."""
    url = pg_admin("toh_monitor_upgrade_test")
    loader = create_engine(url)
    with loader.begin() as conn:
        conn.exec_driver_sql((FIXTURES / "postgresql.sql").read_text(encoding="utf-8"))
    loader.dispose()
    engine = make_engine(url)
    try:
        check_upgrade(engine, pg_admin("toh_monitor_upgrade_fresh"))
    finally:
        engine.dispose()


def test_the_revision_list_matches_the_migration_scripts():
    """`require_initialised` compares against REVISIONS: it must be Alembic's own chain."""
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    config = AlembicConfig()
    config.set_main_option("script_location", str(Path(__file__).resolve().parents[2] / "monitor" / "store" / "migrations"))
    chain = [s.revision for s in ScriptDirectory.from_config(config).walk_revisions()]
    assert tuple(reversed(chain)) == REVISIONS


def test_a_database_from_a_newer_version_is_refused(tmp_path):
    """A database upgraded by a newer toh-monitor is never written by an older one."""
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    init_db(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(DatabaseError, match="newer toh-monitor"):
        require_initialised(engine)
    with pytest.raises(DatabaseError, match="newer toh-monitor"):
        upgrade_db(engine)


def test_the_migrations_build_exactly_the_tables_of_this_version(tmp_path):
    """An upgraded 0.1.0 database and a new one have the same schema: autogenerate finds nothing to do."""
    from alembic.autogenerate import produce_migrations
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    from monitor.store import tables  # noqa: F401 - registers the tables

    shutil.copy(FIXTURES / "monitor.db", tmp_path / "monitor.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'monitor.db'}")
    upgrade_db(engine)
    with engine.connect() as conn:
        ops = produce_migrations(MigrationContext.configure(conn), SQLModel.metadata).upgrade_ops
    assert ops.is_empty(), ops.as_diffs()
