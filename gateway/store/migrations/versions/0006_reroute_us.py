"""Assignments keep the time from a decline to the case's re-dispatch
(``reroute_us``, a generated column as ``ack_us``), and the re-route
median reads it through an index.

Before, the median and p90 of "decline -> re-dispatch" computed the
difference of two timestamps for every declined part of the period and
sorted them: 250 ms of a 12-month dashboard at 1,000,000 cases on SQLite.
With the column the band holding the rank is read through
``ix_assignments_reroute_rank`` (opd, reroute_us, declined_at) as the
ack and resolve medians are.

SQLite cannot add a STORED column in place (a table copy, and Alembic's
copy writes into the generated columns): there the column is VIRTUAL,
computed when read; the index stores its values, so the median's reads
(covered by the index) never compute it. PostgreSQL 15 knows only STORED
generated columns and adds it so (one table rewrite). The values are the
ones the rollups were built from: no rollup is rebuilt.

Revision ID: 0006_reroute_us
Revises: 0005_kpi_rollups
"""

import sqlalchemy as sa
from alembic import op

from gateway.store.durations import micros_sql

revision = '0006_reroute_us'
down_revision = '0005_kpi_rollups'
branch_labels = None
depends_on = None

OLD_INDEX = ['opd', 'declined_at', 'rerouted_at']
NEW_INDEX = ['opd', 'reroute_us', 'declined_at']


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.drop_index('ix_assignments_reroute_rank', table_name='assignments')
    expr = micros_sql(dialect, 'declined_at', 'rerouted_at')
    if dialect == "sqlite":
        op.execute("ALTER TABLE assignments ADD COLUMN reroute_us BIGINT "
                   f"GENERATED ALWAYS AS ({expr}) VIRTUAL")
    else:
        op.add_column('assignments', sa.Column('reroute_us', sa.BigInteger(),
                                               sa.Computed(expr, persisted=True)))
    op.create_index('ix_assignments_reroute_rank', 'assignments', NEW_INDEX)


def downgrade() -> None:
    op.drop_index('ix_assignments_reroute_rank', table_name='assignments')
    op.execute("ALTER TABLE assignments DROP COLUMN reroute_us")
    op.create_index('ix_assignments_reroute_rank', 'assignments', OLD_INDEX)
