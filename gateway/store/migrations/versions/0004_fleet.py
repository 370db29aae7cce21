"""The fleet wing moves into the gateway's database: credentials metadata,
groups, desired/reported config, commands, fault episodes, events and
rollouts (central.db's tables, prefixed ``fleet_``); presence joins the
``devices`` row (online, status_reason, boot_id).

Revision ID: 0004_fleet
Revises: 0003_calltypes
"""

import sqlalchemy as sa
from alembic import op

revision = '0004_fleet'
down_revision = '0004_kpi_durations'
branch_labels = None
depends_on = None

ISO = sa.String(length=40)


def upgrade() -> None:
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('online', sa.Boolean(), server_default=sa.text('false'),
                                      nullable=False))
        batch_op.add_column(sa.Column('status_reason', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('boot_id', sa.String(length=64), nullable=True))
    op.create_table(
        'fleet_credentials',
        sa.Column('username', sa.String(length=63), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('hash', sa.Text(), nullable=True),
        sa.Column('access', sa.Text(), nullable=True),
        sa.Column('revoked', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('updated_at', ISO, nullable=False),
        sa.PrimaryKeyConstraint('username'),
    )
    op.create_table(
        'fleet_groups',
        sa.Column('device', sa.String(length=63), nullable=False),
        sa.Column('name', sa.String(length=63), nullable=False),
        sa.PrimaryKeyConstraint('device', 'name'),
    )
    op.create_table(
        'fleet_desired',
        sa.Column('device', sa.String(length=63), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('settings', sa.Text(), nullable=False),
        sa.Column('issued_at', ISO, nullable=False),
        sa.Column('published_at', ISO, nullable=True),
        sa.PrimaryKeyConstraint('device'),
    )
    op.create_table(
        'fleet_reported',
        sa.Column('device', sa.String(length=63), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('settings', sa.Text(), nullable=False),
        sa.Column('refused_version', sa.Integer(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('received_at', ISO, nullable=False),
        sa.PrimaryKeyConstraint('device'),
    )
    op.create_table(
        'fleet_faults',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('device', sa.String(length=63), nullable=False),
        sa.Column('fault', sa.String(length=100), nullable=False),
        sa.Column('detail', sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column('opened_at', ISO, nullable=False),
        sa.Column('closed_at', ISO, nullable=True),
        sa.Column('notified_open', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('notified_close', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('fleet_faults_one_open', 'fleet_faults', ['device', 'fault'], unique=True,
                    sqlite_where=sa.text('closed_at IS NULL'),
                    postgresql_where=sa.text('closed_at IS NULL'))
    op.create_table(
        'fleet_events',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('device', sa.String(length=63), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('detail', sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column('at', ISO, nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_fleet_events_device', 'fleet_events', ['device', 'id'], unique=False)
    op.create_table(
        'fleet_commands',
        sa.Column('id', sa.String(length=26), nullable=False),
        sa.Column('device', sa.String(length=63), nullable=False),
        sa.Column('name', sa.String(length=32), nullable=False),
        sa.Column('args', sa.Text(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('created_at', ISO, nullable=False),
        sa.Column('expires_at', ISO, nullable=True),
        sa.Column('timeout_s', sa.Float(), nullable=False),
        sa.Column('sent_at', ISO, nullable=True),
        sa.Column('delivered_at', ISO, nullable=True),
        sa.Column('finished_at', ISO, nullable=True),
        sa.Column('result', sa.Text(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_fleet_commands_state', 'fleet_commands', ['state', 'device'], unique=False)
    op.create_table(
        'fleet_rollouts',
        sa.Column('id', sa.String(length=26), nullable=False),
        sa.Column('version', sa.String(length=64), nullable=False),
        sa.Column('url', sa.Text(), nullable=False),
        sa.Column('target', sa.Text(), nullable=False),
        sa.Column('waves', sa.Text(), nullable=False),
        sa.Column('abort_pct', sa.Float(), nullable=False),
        sa.Column('wave_timeout_s', sa.Float(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('wave', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('created_at', ISO, nullable=False),
        sa.Column('finished_at', ISO, nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'fleet_rollout_units',
        sa.Column('rollout', sa.String(length=26), nullable=False),
        sa.Column('device', sa.String(length=63), nullable=False),
        sa.Column('wave', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('command_id', sa.String(length=26), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('offered_at', ISO, nullable=True),
        sa.Column('updated_at', ISO, nullable=False),
        sa.PrimaryKeyConstraint('rollout', 'device'),
    )


def downgrade() -> None:
    for table in ('fleet_rollout_units', 'fleet_rollouts', 'fleet_commands', 'fleet_events',
                  'fleet_faults', 'fleet_reported', 'fleet_desired', 'fleet_groups', 'fleet_credentials'):
        op.drop_table(table)
    for col in ('boot_id', 'status_reason', 'online'):
        op.execute(f"ALTER TABLE devices DROP COLUMN {col}")
