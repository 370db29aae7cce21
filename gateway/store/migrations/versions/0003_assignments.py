"""Assignments with their own status, declines, responders; escalation claims.

Existing cases keep their one assignment per dispatched OPD; its status is
filled in from the timestamps it already has.

Revision ID: 0003_assignments
Revises: 0002_poison
"""

import sqlalchemy as sa
from alembic import op

revision = '0003_assignments'
down_revision = '0002_poison'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attention', sa.String(length=300), nullable=True))
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=16), nullable=False,
                                      server_default='dispatched'))
        batch_op.add_column(sa.Column('declined_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('decline_reason', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('decline_note', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('decline_wrong', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('rerouted_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('responder', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('responder_kind', sa.String(length=16), nullable=True))
    op.execute("UPDATE assignments SET status = CASE "
               "WHEN resolved_at IS NOT NULL THEN 'resolved' "
               "WHEN on_scene_at IS NOT NULL THEN 'on_scene' "
               "WHEN acknowledged_at IS NOT NULL THEN 'acknowledged' ELSE 'dispatched' END")
    op.create_table('escalation_claims',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('incident_pk', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('instance', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['incident_pk'], ['incidents.pk'], ),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('escalation_claims', schema=None) as batch_op:
        batch_op.create_index('ix_escalation_claims_incident_pk', ['incident_pk'], unique=False)


def downgrade() -> None:
    # plain DROP COLUMN (SQLite >= 3.35, PostgreSQL): a batch table copy would
    # trip the foreign keys of a database that holds cases
    op.drop_table('escalation_claims')
    for col in ('responder_kind', 'responder', 'rerouted_at', 'decline_wrong', 'decline_note',
                'decline_reason', 'declined_at', 'status'):
        op.execute(f"ALTER TABLE assignments DROP COLUMN {col}")
    op.execute("ALTER TABLE incidents DROP COLUMN attention")
