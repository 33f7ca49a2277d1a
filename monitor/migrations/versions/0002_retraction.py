"""Retractions: a recorded record marked wrong, kept, ignored by every rule (`monitor records`).

A database made between 0.1.0 and this revision by `create_all` may have the table already.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("retraction"):
        return
    op.create_table('retraction',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('table_name', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('retracted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('retracted_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('on_behalf_of', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('restored_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('restored_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('restored_on_behalf_of', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('restore_reason', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('retraction', schema=None) as batch_op:
        batch_op.create_index('uq_retraction_active', ['table_name', 'record_id'], unique=True,
                              sqlite_where=sa.text('restored_at IS NULL'),
                              postgresql_where=sa.text('restored_at IS NULL'))


def downgrade() -> None:
    with op.batch_alter_table('retraction', schema=None) as batch_op:
        batch_op.drop_index('uq_retraction_active', sqlite_where=sa.text('restored_at IS NULL'),
                            postgresql_where=sa.text('restored_at IS NULL'))
    op.drop_table('retraction')
