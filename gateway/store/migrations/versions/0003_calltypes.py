"""Call types on calls and cases; indexes for a caller's history; flagged numbers.

Revision ID: 0003_calltypes
Revises: 0002_poison (the brief said 0001; main's head is 0002_poison, lead fixes the chain)
"""

import sqlalchemy as sa
from alembic import op

revision = '0003_calltypes'
down_revision = '0003_assignments'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('desk', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('desk_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('call_type', sa.String(length=16), nullable=True))
        batch_op.create_index('ix_calls_number', ['number', 'received_at'], unique=False)
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('call_type', sa.String(length=16), nullable=True))
        batch_op.create_index('ix_incidents_caller', ['caller'], unique=False)
    op.create_table(
        'flagged_numbers',
        sa.Column('pk', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('number', sa.String(length=24), nullable=False),
        sa.Column('offence', sa.Integer(), nullable=False),
        sa.Column('calls', sa.Integer(), nullable=False),
        sa.Column('flagged_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=True),
        sa.Column('lifted_at', sa.DateTime(), nullable=True),
        sa.Column('lifted_by', sa.String(length=64), nullable=True),
        sa.Column('lift_reason', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('pk'),
    )
    op.create_index('ix_flagged_number', 'flagged_numbers', ['number'], unique=False)


def downgrade() -> None:
    # plain DROP COLUMN (SQLite >= 3.35, PostgreSQL): a batch table copy would
    # trip the foreign keys of a database that holds cases (as in 0003_assignments)
    op.drop_index('ix_flagged_number', table_name='flagged_numbers')
    op.drop_table('flagged_numbers')
    op.drop_index('ix_incidents_caller', table_name='incidents')
    op.drop_index('ix_calls_number', table_name='calls')
    for table, col in (('devices', 'desk_at'), ('devices', 'desk'), ('incidents', 'call_type'),
                       ('calls', 'call_type')):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {col}")
