"""Call types on calls and cases; indexes for a caller's history.

Revision ID: 0003_calltypes
Revises: 0002_poison (the brief said 0001; main's head is 0002_poison, lead fixes the chain)
"""

import sqlalchemy as sa
from alembic import op

revision = '0003_calltypes'
down_revision = '0002_poison'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('call_type', sa.String(length=16), nullable=True))
        batch_op.create_index('ix_calls_number', ['number', 'received_at'], unique=False)
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('call_type', sa.String(length=16), nullable=True))
        batch_op.create_index('ix_incidents_caller', ['caller'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index('ix_incidents_caller')
        batch_op.drop_column('call_type')
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index('ix_calls_number')
        batch_op.drop_column('call_type')
