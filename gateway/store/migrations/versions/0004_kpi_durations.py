"""Assignments keep their durations (generated columns) for the KPIs.

``ack_us`` and ``resolve_us``: microseconds from dispatch to acknowledgement
and to resolution, computed by the database on every write
(gateway/store/durations.py). SQLite cannot add a STORED column in place,
so the assignments table is copied (nothing references it); PostgreSQL
adds them and rewrites the table once.

Revision ID: 0004_kpi_durations
Revises: 0003_calltypes
"""

import sqlalchemy as sa
from alembic import op

from gateway.store.durations import ASSIGNMENT_DURATIONS, micros_sql

revision = '0004_kpi_durations'
down_revision = '0003_calltypes'
branch_labels = None
depends_on = None


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


def downgrade() -> None:
    for name in ASSIGNMENT_DURATIONS:
        op.execute(f"ALTER TABLE assignments DROP COLUMN {name}")
