"""KPI rollups: per local day sums for the mayor's dashboard, the triggers
that mark changed days dirty, and the indexes the exact medians read.

Tables: gateway/store/models_kpi.py; triggers: gateway/store/kpi_triggers.py.
The rollups of the rows already there are built after the last migration
(``gateway.store.db.upgrade`` calls ``kpi_rollup.build_after_migration``:
the build reads columns later revisions add, e.g. ``reroute_us``) for the
default zone (Asia/Jakarta, SiteConfig's default; a migration has no site
file); a site in another zone runs ``siaga gateway rollups --rebuild``;
until then the KPIs read raw rows.

Revision ID: 0005_kpi_rollups
Revises: 0005_province
"""

import sqlalchemy as sa
from alembic import op

revision = '0005_kpi_rollups'
down_revision = '0005_province'
branch_labels = None
depends_on = None

INT = sa.Integer


def _day_cols() -> list[sa.Column]:
    return [sa.Column('day', INT(), primary_key=True)]


def _day_table(name: str, *cols: sa.Column) -> None:
    op.create_table(name, *cols, sqlite_with_rowid=False)  # SQLite: clustered by the key


def upgrade() -> None:
    from gateway.store.kpi_triggers import create_sql

    op.create_table('kpi_meta', sa.Column('key', sa.String(32), primary_key=True),
                    sa.Column('value', sa.String(200), nullable=False))
    op.create_table('kpi_dirty', sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                                           primary_key=True, autoincrement=True),
                    sa.Column('day', INT(), nullable=False))
    op.create_index('ix_kpi_dirty_day', 'kpi_dirty', ['day'])
    _day_table('kpi_day_assignments', *_day_cols(), sa.Column('opd', sa.String(32), primary_key=True),
                    *[sa.Column(c, INT(), nullable=False) for c in (
                        'n', 'open', 'esc', 'ack_done', 'ack_dec', 'ack_ok', 'res_done', 'res_dec', 'res_ok',
                        'ack_olim', 'res_olim')],
                    sa.Column('ack_olim_max', sa.Float()), sa.Column('res_olim_max', sa.Float()),
                    sa.Column('withdrawn', INT(), nullable=False))
    _day_table('kpi_day_histograms', sa.Column('clock', INT(), primary_key=True), *_day_cols(),
                    sa.Column('opd', sa.String(32), primary_key=True),
                    sa.Column('band', INT(), primary_key=True),
                    sa.Column('n', INT(), nullable=False))
    _day_table('kpi_day_incidents', *_day_cols(),
                    sa.Column('category', sa.String(32), primary_key=True),
                    sa.Column('status', sa.String(16), primary_key=True),
                    sa.Column('n', INT(), nullable=False))
    _day_table('kpi_day_hours', *_day_cols(), sa.Column('hour', INT(), primary_key=True),
                    sa.Column('n', INT(), nullable=False))
    _day_table('kpi_day_calls', *_day_cols(), sa.Column('call_type', sa.String(16), primary_key=True),
                    sa.Column('end_reason', sa.String(32), primary_key=True),
                    *[sa.Column(c, INT(), nullable=False) for c in (
                        'n', 'answered', 'w15', 'w20', 'b0', 'b1', 'b2', 'b3', 'b4', 'b5', 'b6')])
    _day_table('kpi_day_declines', *_day_cols(), sa.Column('opd', sa.String(32), primary_key=True),
                    sa.Column('reason', sa.String(16), primary_key=True),
                    *[sa.Column(c, INT(), nullable=False) for c in ('n', 'wrong', 'rerouted')])
    op.create_index('ix_assignments_ack_rank', 'assignments', ['opd', 'ack_us', 'dispatched_at', 'status'])
    op.create_index('ix_assignments_resolve_rank', 'assignments',
                    ['opd', 'resolve_us', 'dispatched_at', 'status'])
    op.create_index('ix_assignments_declined', 'assignments', ['declined_at'])
    op.create_index('ix_assignments_reroute_rank', 'assignments', ['opd', 'declined_at', 'rerouted_at'])
    op.create_index('ix_calls_answer_rank', 'calls', ['direction', 'answer_s', 'received_at'])
    bind = op.get_bind()
    for ddl in create_sql(bind.dialect.name, pg_marks='xmin'):  # 0008 makes them find their mark by index
        op.execute(ddl)


def downgrade() -> None:
    from gateway.store.kpi_triggers import drop_sql

    for ddl in drop_sql(op.get_bind().dialect.name):
        op.execute(ddl)
    op.drop_index('ix_calls_answer_rank', table_name='calls')
    op.drop_index('ix_assignments_reroute_rank', table_name='assignments')
    op.drop_index('ix_assignments_declined', table_name='assignments')
    op.drop_index('ix_assignments_resolve_rank', table_name='assignments')
    op.drop_index('ix_assignments_ack_rank', table_name='assignments')
    for t in ('kpi_day_declines', 'kpi_day_calls', 'kpi_day_hours', 'kpi_day_incidents', 'kpi_day_histograms',
              'kpi_day_assignments', 'kpi_dirty', 'kpi_meta'):
        op.drop_table(t)
