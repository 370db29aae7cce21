"""KPI indexes: assignments by dispatch time (the KPI period of an OPD's clock).

Revision ID: 0002_kpi
Revises: 0001
"""

from alembic import op

revision = '0002_kpi'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index('ix_assignments_dispatched', ['dispatched_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_index('ix_assignments_dispatched')
