"""Alembic's entry point: migrations run on the connection `store.init_db` hands over.

`monitor init` is the only way in (no alembic.ini): it opens the write transaction, and every
migration of one upgrade runs inside it, so an upgrade is all or nothing.
"""

from alembic import context
from sqlmodel import SQLModel

from monitor import models  # noqa: F401 - registers the tables on SQLModel.metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=SQLModel.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
