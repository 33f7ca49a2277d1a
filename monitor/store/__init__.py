"""The database: tables, engine and transactions, the cohort queries, and schema migrations.

`from monitor import store` gives the whole public surface; the modules hold the parts.
"""

from monitor.store.cohort_reads import RETRACTION_TABLE, TABLES, load_cohort, read_table
from monitor.store.engine import DEFAULT_URL, database_files, explain, is_sqlite, lock_holders, make_engine, reading, record_event, resolve_url, sqlite_path, transaction
from monitor.store.schema import REVISIONS, SCHEMA_REVISION, init_db, require_initialised, schema_revision, upgrade_db

__all__ = [
    "DEFAULT_URL", "database_files", "REVISIONS", "RETRACTION_TABLE", "SCHEMA_REVISION", "TABLES", "explain", "init_db", "is_sqlite",
    "load_cohort", "lock_holders", "make_engine", "read_table", "reading", "record_event", "require_initialised",
    "resolve_url", "schema_revision", "sqlite_path", "transaction", "upgrade_db",
]
