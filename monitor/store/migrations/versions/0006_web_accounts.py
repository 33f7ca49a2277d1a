"""Web workspace accounts and sessions (issue 13, `monitor users`, `monitor serve`).

New tables only: no existing row changes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table("web_account"):  # a development build's create_all may have made it
        _create_web_account()
    if not inspector.has_table("web_session"):
        _create_web_session()


def _create_web_account() -> None:
    op.create_table('web_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('password_hash', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
    sa.Column('is_disabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('password_changed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('last_login_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('web_account', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_account_username'), ['username'], unique=True)


def _create_web_session() -> None:
    op.create_table('web_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('csrf_token', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['web_account.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('web_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_session_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_web_session_token_hash'), ['token_hash'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('web_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_session_token_hash'))
        batch_op.drop_index(batch_op.f('ix_web_session_account_id'))

    op.drop_table('web_session')
    with op.batch_alter_table('web_account', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_account_username'))

    op.drop_table('web_account')
