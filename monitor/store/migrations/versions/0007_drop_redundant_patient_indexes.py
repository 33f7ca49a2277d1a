"""Drop each child table's index of `patient_id` alone where its unique constraint starts with
`patient_id` (issue 16): that constraint's index already serves a patient's lookups on SQLite and
PostgreSQL, and every imported row paid to keep both up to date.

No row changes; the downgrade builds the indexes again.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Each table's unique constraint leads with patient_id (monitor/store/tables.py).
TABLES = ("assessment", "dxa_measurement", "episode", "flag_seen", "mri_study", "pregnancy", "reminder",
          "symptom", "treatment")


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table in TABLES:
        name = f"ix_{table}_patient_id"
        if any(index["name"] == name for index in inspector.get_indexes(table)):
            op.drop_index(name, table_name=table)


def downgrade() -> None:
    for table in TABLES:
        op.create_index(f"ix_{table}_patient_id", table, ["patient_id"], unique=False)
