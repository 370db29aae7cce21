"""Assignments keep their durations (generated columns) for the KPIs; covering
indexes for the KPIs' counts of incidents and calls.

``ack_us`` and ``resolve_us``: microseconds from dispatch to acknowledgement
and to resolution, computed by the database on every write
(gateway/store/durations.py). SQLite cannot add a STORED column in place,
so the assignments table is copied (nothing references it); PostgreSQL
adds them and rewrites the table once. The two indexes let the counts by
category/status and the call figures read an index instead of the table
(about 3x less CPU on SQLite for those queries at 100,000 cases).

Revision ID: 0004_kpi_durations
Revises: 0003_calltypes
"""

import sqlalchemy as sa
from alembic import op

from gateway.store.durations import micros_sql

revision = '0004_kpi_durations'
down_revision = '0004_duplicates'
branch_labels = None
depends_on = None

#: this revision's columns (a later one adds reroute_us: gateway.store.durations)
ASSIGNMENT_DURATIONS = {"ack_us": ("dispatched_at", "acknowledged_at"),
                        "resolve_us": ("dispatched_at", "resolved_at")}


def _columns(dialect: str) -> list[sa.Column]:
    return [sa.Column(name, sa.BigInteger(), sa.Computed(micros_sql(dialect, a, b), persisted=True))
            for name, (a, b) in ASSIGNMENT_DURATIONS.items()]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        with op.batch_alter_table('assignments', recreate='always') as batch_op:
            for col in _columns(dialect):
                batch_op.add_column(col)
    else:
        for col in _columns(dialect):
            op.add_column('assignments', col)
    op.create_index('ix_incidents_kpi', 'incidents', ['received_at', 'category', 'status'])
    op.create_index('ix_calls_kpi', 'calls', ['received_at', 'direction', 'answer_s', 'end_reason',
                                              'call_type'])


def downgrade() -> None:
    op.drop_index('ix_calls_kpi', table_name='calls')
    op.drop_index('ix_incidents_kpi', table_name='incidents')
    for name in ASSIGNMENT_DURATIONS:
        op.execute(f"ALTER TABLE assignments DROP COLUMN {name}")
