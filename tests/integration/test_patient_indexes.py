"""Revision 0007 drops each child table's index of `patient_id` alone where the table's unique
constraint starts with `patient_id`; a patient's rows are still found through an index."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from monitor.store import make_engine
from monitor.store.schema import _alembic_config

REDUNDANT = ("assessment", "dxa_measurement", "episode", "flag_seen", "mri_study", "pregnancy", "reminder",
             "symptom", "treatment")
KEPT = ("flag_acknowledgement", "patient_status_change")  # no unique constraint: their index is the only one


def patient_indexes(conn) -> set[str]:
    inspector = inspect(conn)
    return {index["name"] for table in REDUNDANT + KEPT for index in inspector.get_indexes(table)
            if index["column_names"] == ["patient_id"]}


def test_the_migration_drops_the_redundant_indexes_and_the_downgrade_rebuilds_them(db_url):
    """Upgrading takes off only indexes another index already covers; going back restores them."""
    engine = make_engine(db_url)
    kept = {f"ix_{table}_patient_id" for table in KEPT}
    with engine.begin() as conn:
        assert patient_indexes(conn) == kept  # a new database: as the models say
        command.downgrade(_alembic_config(conn), "0006")
        assert patient_indexes(conn) == kept | {f"ix_{table}_patient_id" for table in REDUNDANT}
        command.upgrade(_alembic_config(conn), "head")
        assert patient_indexes(conn) == kept
    engine.dispose()


def test_a_patients_scans_are_still_found_through_an_index(db_url):
    """The per-patient reads (a patient's page, chunked evaluation) stay index lookups."""
    engine = make_engine(db_url)
    with engine.begin() as conn:
        for table in REDUNDANT:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # empty tables: ask what it could use
                plan = " ".join(r[0] for r in conn.exec_driver_sql(
                    f"EXPLAIN SELECT * FROM {table} WHERE patient_id BETWEEN 1 AND 5"))
                assert f"{table}_patient_id_" in plan and "Index" in plan, plan  # the unique constraint's
            else:
                plan = " ".join(r[-1] for r in conn.exec_driver_sql(
                    f"EXPLAIN QUERY PLAN SELECT * FROM {table} WHERE patient_id = 1"))
                assert f"USING INDEX sqlite_autoindex_{table}_1 (patient_id=?)" in plan, plan
    engine.dispose()
