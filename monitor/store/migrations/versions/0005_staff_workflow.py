"""Staff workflow (issue 12): patient contact details, reminder assignment and booking dates,
status changes made by staff, and the first night each flag was seen (the review list).

New tables and nullable columns: no existing row changes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COLUMNS = {
    "patient": [sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
                sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
                sa.Column("preferred_contact", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
                sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=400), nullable=True),
                sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)],
    "reminder_event": [sa.Column("assignee", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
                       sa.Column("due_by", sa.Date(), nullable=True),
                       sa.Column("booked_on", sa.Date(), nullable=True)],
}


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table("flag_seen"):  # a development build's create_all may have made it
        op.create_table(
            "flag_seen",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("patient_id", sa.Integer(), nullable=False),
            sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
            sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
            sa.Column("severity", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
            sa.Column("first_seen_on", sa.Date(), nullable=False),
            sa.Column("run_id", sa.Integer(), nullable=True),
            sa.ForeignKeyConstraint(["patient_id"], ["patient.id"]),
            sa.ForeignKeyConstraint(["run_id"], ["job_run.id"]),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("patient_id", "code", "fingerprint"),
        )
        with op.batch_alter_table("flag_seen", schema=None) as batch_op:
            batch_op.create_index(batch_op.f("ix_flag_seen_patient_id"), ["patient_id"], unique=False)
    if not inspector.has_table("patient_status_change"):
        op.create_table(
            "patient_status_change",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("patient_id", sa.Integer(), nullable=False),
            sa.Column("from_status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
            sa.Column("to_status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
            sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
            sa.Column("changed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
            sa.Column("changed_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
            sa.Column("on_behalf_of", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
            sa.ForeignKeyConstraint(["patient_id"], ["patient.id"]),
            sa.PrimaryKeyConstraint("id"),
        )
        with op.batch_alter_table("patient_status_change", schema=None) as batch_op:
            batch_op.create_index(batch_op.f("ix_patient_status_change_patient_id"), ["patient_id"], unique=False)
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
    for table in ("patient_status_change", "flag_seen"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_patient_id"))
        op.drop_table(table)
