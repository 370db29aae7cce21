"""A KPI dirty mark names its transaction (``kpi_dirty.tx``), indexed with
the day.

On PostgreSQL each writing transaction marks each day it touches once (a
concurrent refresh may delete another transaction's mark without seeing
this change, gateway/store/kpi_triggers.py). The trigger looked for its own
mark by the row's ``xmin``, which no index holds: every trigger call read
every mark of the day. Marks pile up between refreshes (one per commit: a
flood's single-press batches made thousands), and in a surge benchmark the
two trigger calls of each case cost 0.5 ms of the server each, growing as
the day went on. With ``tx`` in the index the lookup is one probe. SQLite's
triggers are unchanged (one mark per day); ``tx`` stays NULL there.

Revision ID: 0008_kpi_dirty_tx
Revises: 0007_kpi_months
"""

import sqlalchemy as sa
from alembic import op

revision = '0008_kpi_dirty_tx'
down_revision = '0007_kpi_months'
branch_labels = None
depends_on = None


def _pg_triggers(sql: list[str]) -> None:
    from gateway.store.kpi_triggers import drop_sql

    for ddl in drop_sql("postgresql") + sql:
        op.execute(ddl)


def upgrade() -> None:
    from gateway.store.kpi_triggers import create_sql

    # in place on both (no table copy: SQLite's triggers on the case tables name kpi_dirty)
    op.add_column('kpi_dirty', sa.Column('tx', sa.BigInteger(), nullable=True))
    op.drop_index('ix_kpi_dirty_day', table_name='kpi_dirty')
    op.create_index('ix_kpi_dirty_day_tx', 'kpi_dirty', ['day', 'tx'])
    if op.get_bind().dialect.name == 'postgresql':
        _pg_triggers(create_sql('postgresql'))


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        from gateway.store.kpi_triggers import create_sql

        _pg_triggers(create_sql('postgresql', pg_marks='xmin'))
    op.drop_index('ix_kpi_dirty_day_tx', table_name='kpi_dirty')
    op.create_index('ix_kpi_dirty_day', 'kpi_dirty', ['day'])
    op.execute("ALTER TABLE kpi_dirty DROP COLUMN tx")
