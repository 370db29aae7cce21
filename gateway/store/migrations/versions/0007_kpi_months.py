"""KPI rollups per month beside the per-day ones: a year's dashboard sums
~12 rows per key where it summed ~365 (the day histograms alone were
~88,000 rows a year at 1,000,000 cases, 200+ ms of a 12-month board on
SQLite).

Each ``kpi_month_*`` table has its ``kpi_day_*`` twin's columns; ``day``
holds the ordinal of the month's first local day. ``kpi_month_medians``
keeps each month's exact ack median per OPD (the year's trend chart). The months of the day
rows already there are summed after the last migration
(``kpi_rollup.build_after_migration``), not here: until then readers use
the day rows (``kpi_meta`` says whether the months are built).

Revision ID: 0007_kpi_months
Revises: 0006_reroute_us
"""

import sqlalchemy as sa
from alembic import op

revision = '0007_kpi_months'
down_revision = '0006_reroute_us'
branch_labels = None
depends_on = None

INT = sa.Integer


def _table(name: str, *cols: sa.Column) -> None:
    op.create_table(name, *cols, sqlite_with_rowid=False)  # SQLite: clustered by the key


def _day() -> sa.Column:
    return sa.Column('day', INT(), primary_key=True)


def _ints(*names: str) -> list[sa.Column]:
    return [sa.Column(c, INT(), nullable=False) for c in names]


def upgrade() -> None:
    _table('kpi_month_assignments', _day(), sa.Column('opd', sa.String(32), primary_key=True),
           *_ints('n', 'open', 'esc', 'ack_done', 'ack_dec', 'ack_ok', 'res_done', 'res_dec', 'res_ok',
                  'ack_olim', 'res_olim'),
           sa.Column('ack_olim_max', sa.Float()), sa.Column('res_olim_max', sa.Float()), *_ints('withdrawn'))
    _table('kpi_month_histograms', sa.Column('clock', INT(), primary_key=True), _day(),
           sa.Column('opd', sa.String(32), primary_key=True), sa.Column('band', INT(), primary_key=True),
           *_ints('n'))
    _table('kpi_month_incidents', _day(), sa.Column('category', sa.String(32), primary_key=True),
           sa.Column('status', sa.String(16), primary_key=True), *_ints('n'))
    _table('kpi_month_hours', _day(), sa.Column('hour', INT(), primary_key=True), *_ints('n'))
    _table('kpi_month_calls', _day(), sa.Column('call_type', sa.String(16), primary_key=True),
           sa.Column('end_reason', sa.String(32), primary_key=True),
           *_ints('n', 'answered', 'w15', 'w20', 'b0', 'b1', 'b2', 'b3', 'b4', 'b5', 'b6'))
    _table('kpi_month_declines', _day(), sa.Column('opd', sa.String(32), primary_key=True),
           sa.Column('reason', sa.String(16), primary_key=True), *_ints('n', 'wrong', 'rerouted'))
    _table('kpi_month_medians', sa.Column('clock', INT(), primary_key=True), _day(),
           sa.Column('opd', sa.String(32), primary_key=True), *_ints('n'),
           sa.Column('lo', sa.BigInteger(), nullable=False), sa.Column('hi', sa.BigInteger(), nullable=False))


def downgrade() -> None:
    op.execute("DELETE FROM kpi_meta WHERE key = 'months'")
    for t in ('kpi_month_medians', 'kpi_month_declines', 'kpi_month_calls', 'kpi_month_hours',
              'kpi_month_incidents', 'kpi_month_histograms', 'kpi_month_assignments'):
        op.drop_table(t)
