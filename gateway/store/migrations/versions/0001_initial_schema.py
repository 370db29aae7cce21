"""Initial schema: devices, incidents, audit, assignments, outbox, calls, users.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-23 14:20:53.925755
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('calls',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('device_id', sa.String(length=63), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('direction', sa.String(length=16), nullable=False),
    sa.Column('number', sa.String(length=24), nullable=True),
    sa.Column('ring_at', sa.DateTime(), nullable=True),
    sa.Column('answered_at', sa.DateTime(), nullable=True),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.Column('answer_s', sa.Float(), nullable=True),
    sa.Column('duration_s', sa.Float(), nullable=False),
    sa.Column('end_reason', sa.String(length=16), nullable=False),
    sa.Column('operator', sa.String(length=200), nullable=True),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.create_index('ix_calls_device', ['device_id'], unique=False)
        batch_op.create_index('ix_calls_received', ['received_at'], unique=False)

    op.create_table('devices',
    sa.Column('id', sa.String(length=63), nullable=False),
    sa.Column('profile', sa.String(length=16), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=True),
    sa.Column('area', sa.String(length=200), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen', sa.DateTime(), nullable=True),
    sa.Column('last_status', sa.String(length=16), nullable=True),
    sa.Column('status_at', sa.DateTime(), nullable=True),
    sa.Column('firmware', sa.String(length=200), nullable=True),
    sa.Column('last_telemetry', sa.JSON(), nullable=True),
    sa.Column('telemetry_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('incidents',
    sa.Column('pk', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('case_no', sa.String(length=32), nullable=True),
    sa.Column('device_id', sa.String(length=63), nullable=True),
    sa.Column('seq', sa.Integer(), nullable=True),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('location_label', sa.String(length=200), nullable=True),
    sa.Column('area', sa.String(length=200), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('caller', sa.String(length=24), nullable=True),
    sa.Column('call_id', sa.String(length=26), nullable=True),
    sa.Column('button', sa.String(length=200), nullable=True),
    sa.Column('device_time', sa.DateTime(), nullable=True),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('reject_reason', sa.String(length=32), nullable=True),
    sa.Column('handoff', sa.Boolean(), nullable=False),
    sa.Column('escalated', sa.Boolean(), nullable=False),
    sa.Column('sla_ack_min', sa.Float(), nullable=True),
    sa.Column('sla_resolve_min', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('pk'),
    sa.UniqueConstraint('case_no'),
    sa.UniqueConstraint('id')
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index('ix_incidents_category', ['category'], unique=False)
        batch_op.create_index('ix_incidents_device', ['device_id'], unique=False)
        batch_op.create_index('ix_incidents_received', ['received_at'], unique=False)
        batch_op.create_index('ix_incidents_status', ['status'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('opd', sa.String(length=32), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_used_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_table('assignments',
    sa.Column('pk', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('incident_pk', sa.Integer(), nullable=False),
    sa.Column('opd', sa.String(length=32), nullable=False),
    sa.Column('dispatched_at', sa.DateTime(), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(), nullable=True),
    sa.Column('on_scene_at', sa.DateTime(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.Column('sla_ack_min', sa.Float(), nullable=True),
    sa.Column('sla_resolve_min', sa.Float(), nullable=True),
    sa.Column('ack_escalated_at', sa.DateTime(), nullable=True),
    sa.Column('resolve_escalated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['incident_pk'], ['incidents.pk'], ),
    sa.PrimaryKeyConstraint('pk'),
    sa.UniqueConstraint('incident_pk', 'opd')
    )
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index('ix_assignments_opd', ['opd'], unique=False)

    op.create_table('outbox',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('incident_pk', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('target', sa.String(length=32), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
    sa.Column('lease_owner', sa.String(length=100), nullable=True),
    sa.Column('lease_until', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('delivered_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['incident_pk'], ['incidents.pk'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_incident_pk'), ['incident_pk'], unique=False)

    op.create_table('transitions',
    sa.Column('pk', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('incident_pk', sa.Integer(), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('event', sa.String(length=16), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('via', sa.String(length=32), nullable=False),
    sa.Column('opd', sa.String(length=32), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['incident_pk'], ['incidents.pk'], ),
    sa.PrimaryKeyConstraint('pk')
    )
    with op.batch_alter_table('transitions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_transitions_incident_pk'), ['incident_pk'], unique=False)

    op.create_table('web_sessions',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('token_hash')
    )
    op.create_table('delivery_attempts',
    sa.Column('pk', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('outbox_id', sa.String(length=26), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('duration_ms', sa.Float(), nullable=False),
    sa.Column('instance', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], ),
    sa.PrimaryKeyConstraint('pk')
    )
    with op.batch_alter_table('delivery_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivery_attempts_outbox_id'), ['outbox_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('delivery_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delivery_attempts_outbox_id'))

    op.drop_table('delivery_attempts')
    op.drop_table('web_sessions')
    with op.batch_alter_table('transitions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_transitions_incident_pk'))

    op.drop_table('transitions')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_incident_pk'))
        batch_op.drop_index('ix_outbox_due')

    op.drop_table('outbox')
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_index('ix_assignments_opd')

    op.drop_table('assignments')
    op.drop_table('api_tokens')
    op.drop_table('users')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index('ix_incidents_status')
        batch_op.drop_index('ix_incidents_received')
        batch_op.drop_index('ix_incidents_device')
        batch_op.drop_index('ix_incidents_category')

    op.drop_table('incidents')
    op.drop_table('devices')
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index('ix_calls_received')
        batch_op.drop_index('ix_calls_device')

    op.drop_table('calls')

