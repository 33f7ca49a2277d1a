"""The schema of toh-monitor 0.1.0: revision 1, the base every upgrade starts from.

A 0.1.0 database has no alembic_version table; `monitor init` stamps it with this revision
and upgrades it from here.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('detail', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_event_action'), ['action'], unique=False)

    op.create_table('job_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('slot_on', sa.Date(), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('started_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('finished_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('trigger', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('counts', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('job_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_run_job'), ['job'], unique=False)

    op.create_table('patient',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mrn', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('sex', sqlmodel.sql.sqltypes.AutoString(length=1), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('enrolled_on', sa.Date(), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('postmenopausal', sa.Boolean(), nullable=True),
    sa.Column('recorded_on', sa.Date(), nullable=True),
    sa.Column('risk_factors', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patient_mrn'), ['mrn'], unique=True)

    op.create_table('schema_info',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('assessment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('assessed_on', sa.Date(), nullable=False),
    sa.Column('calcium_mg_day', sa.Float(), nullable=True),
    sa.Column('vitamin_d_iu_day', sa.Float(), nullable=True),
    sa.Column('serum_25ohd_ng_ml', sa.Float(), nullable=True),
    sa.Column('exercise_min_day', sa.Float(), nullable=True),
    sa.Column('smoker', sa.Boolean(), nullable=True),
    sa.Column('alcohol_drinks_day', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('patient_id', 'assessed_on')
    )
    with op.batch_alter_table('assessment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assessment_patient_id'), ['patient_id'], unique=False)

    op.create_table('dxa_measurement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('scan_date', sa.Date(), nullable=False),
    sa.Column('scanner', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('site', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('side', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('bmd_g_cm2', sa.Float(), nullable=False),
    sa.Column('t_score', sa.Float(), nullable=True),
    sa.Column('z_score', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('patient_id', 'scan_date', 'site', 'side')
    )
    with op.batch_alter_table('dxa_measurement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dxa_measurement_patient_id'), ['patient_id'], unique=False)

    op.create_table('episode',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('joint', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('side', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('onset_date', sa.Date(), nullable=False),
    sa.Column('diagnosed_on', sa.Date(), nullable=True),
    sa.Column('resolved_on', sa.Date(), nullable=True),
    sa.Column('pregnancy_associated', sa.Boolean(), nullable=False),
    sa.Column('fracture', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('patient_id', 'joint', 'side', 'onset_date')
    )
    with op.batch_alter_table('episode', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_episode_patient_id'), ['patient_id'], unique=False)

    op.create_table('job_completion',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('slot_on', sa.Date(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['job_run.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('job', 'slot_on')
    )
    op.create_table('mri_study',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('study_date', sa.Date(), nullable=False),
    sa.Column('joint', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('side', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('t1_low', sa.Boolean(), nullable=True),
    sa.Column('t2_high', sa.Boolean(), nullable=True),
    sa.Column('edema_homogeneous', sa.Boolean(), nullable=True),
    sa.Column('subchondral_normal', sa.Boolean(), nullable=True),
    sa.Column('subchondral_rim', sa.Boolean(), nullable=True),
    sa.Column('reported_as', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('contrast', sa.Boolean(), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('patient_id', 'study_date', 'joint', 'side')
    )
    with op.batch_alter_table('mri_study', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mri_study_patient_id'), ['patient_id'], unique=False)

    op.create_table('pregnancy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('key_on', sa.Date(), nullable=False),
    sa.Column('expected_delivery', sa.Date(), nullable=True),
    sa.Column('delivered_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('patient_id', 'key_on')
    )
    with op.batch_alter_table('pregnancy', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pregnancy_patient_id'), ['patient_id'], unique=False)

    op.create_table('reminder',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('item', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.ForeignKeyConstraint(['run_id'], ['job_run.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('patient_id', 'item', 'due_date')
    )
    with op.batch_alter_table('reminder', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reminder_patient_id'), ['patient_id'], unique=False)

    op.create_table('symptom',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('reported_on', sa.Date(), nullable=False),
    sa.Column('complaint', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('side', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('progressive', sa.Boolean(), nullable=True),
    sa.Column('weight_bearing', sa.Boolean(), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('patient_id', 'reported_on', 'complaint', 'side')
    )
    with op.batch_alter_table('symptom', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_symptom_patient_id'), ['patient_id'], unique=False)

    op.create_table('treatment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('drug', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('dose', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('started_on', sa.Date(), nullable=False),
    sa.Column('stopped_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('patient_id', 'drug', 'started_on')
    )
    with op.batch_alter_table('treatment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_treatment_patient_id'), ['patient_id'], unique=False)

    op.create_table('reminder_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reminder_id', sa.Integer(), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('until', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['reminder_id'], ['reminder.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('reminder_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reminder_event_reminder_id'), ['reminder_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('reminder_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reminder_event_reminder_id'))

    op.drop_table('reminder_event')
    with op.batch_alter_table('treatment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_treatment_patient_id'))

    op.drop_table('treatment')
    with op.batch_alter_table('symptom', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_symptom_patient_id'))

    op.drop_table('symptom')
    with op.batch_alter_table('reminder', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reminder_patient_id'))

    op.drop_table('reminder')
    with op.batch_alter_table('pregnancy', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pregnancy_patient_id'))

    op.drop_table('pregnancy')
    with op.batch_alter_table('mri_study', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mri_study_patient_id'))

    op.drop_table('mri_study')
    op.drop_table('job_completion')
    with op.batch_alter_table('episode', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_episode_patient_id'))

    op.drop_table('episode')
    with op.batch_alter_table('dxa_measurement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dxa_measurement_patient_id'))

    op.drop_table('dxa_measurement')
    with op.batch_alter_table('assessment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assessment_patient_id'))

    op.drop_table('assessment')
    op.drop_table('schema_info')
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patient_mrn'))

    op.drop_table('patient')
    with op.batch_alter_table('job_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_run_job'))

    op.drop_table('job_run')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_event_action'))

    op.drop_table('audit_event')
