"""Merged duplicates: a case kept as a duplicate points to the case it was merged into;
an index on updated_at for the consoles' reads of what changed since their last event.

Revision ID: 0004_duplicates
Revises: 0003_calltypes
"""

import sqlalchemy as sa
from alembic import op

revision = '0004_duplicates'
down_revision = '0003_calltypes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('duplicate_of', sa.String(length=26), nullable=True))
        batch_op.create_index('ix_incidents_duplicate_of', ['duplicate_of'], unique=False)
        batch_op.create_index('ix_incidents_updated', ['updated_at'], unique=False)


def downgrade() -> None:
    # plain DROP COLUMN, as 0003_calltypes: a batch table copy would trip the foreign keys
    op.drop_index('ix_incidents_updated', table_name='incidents')
    op.drop_index('ix_incidents_duplicate_of', table_name='incidents')
    op.execute("ALTER TABLE incidents DROP COLUMN duplicate_of")
