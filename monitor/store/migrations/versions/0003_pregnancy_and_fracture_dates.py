"""Protocol v2 data: the date of an episode's fracture, and breastfeeding after a pregnancy.

Nullable columns: no existing row changes (INTERFACE v2 `fracture_on`, `breastfeeding_until`).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS = {
    "episode": [sa.Column("fracture_on", sa.Date(), nullable=True)],
    "pregnancy": [sa.Column("breastfeeding_until", sa.Date(), nullable=True),
                  sa.Column("breastfeeding_ongoing", sa.Boolean(), nullable=True)],
}


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table, columns in COLUMNS.items():
        present = {c["name"] for c in inspector.get_columns(table)}
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                if column.name not in present:  # a development build may have added it already
                    batch_op.add_column(column)


def downgrade() -> None:
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.drop_column(column.name)
