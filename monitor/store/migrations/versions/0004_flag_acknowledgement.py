"""Flag acknowledgements: a clinician acknowledged a flag as it read then (`monitor flags ack`).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("flag_acknowledgement"):
        return  # a development build's create_all made it already
    op.create_table('flag_acknowledgement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
    sa.Column('fingerprint', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('acknowledged_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('acknowledged_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('on_behalf_of', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('flag_acknowledgement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flag_acknowledgement_patient_id'), ['patient_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('flag_acknowledgement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flag_acknowledgement_patient_id'))
    op.drop_table('flag_acknowledgement')
