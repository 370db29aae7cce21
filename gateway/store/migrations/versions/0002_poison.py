"""Ingest attempts and the poison dead-letter table.

Revision ID: 0002_poison
Revises: 0001
Create Date: 2026-11-30 13:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0002_poison'
down_revision = '0002_kpi'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ingest_attempts',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('topic', sa.String(length=255), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('first_at', sa.DateTime(), nullable=False),
    sa.Column('last_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('poison_messages',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('topic', sa.String(length=255), nullable=False),
    sa.Column('device_id', sa.String(length=63), nullable=True),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('poison_messages', schema=None) as batch_op:
        batch_op.create_index('ix_poison_received', ['received_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('poison_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_poison_received')
    op.drop_table('poison_messages')
    op.drop_table('ingest_attempts')
