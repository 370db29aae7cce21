"""A province gateway: each case and call record keeps the city whose broker
bridged it up (NULL at a city gateway: its own units), and the units seen
through the cities' bridges are keyed by (city, device id), since two cities
may both have a box-01.

Revision ID: 0005_province
Revises: 0004_fleet
"""

import sqlalchemy as sa
from alembic import op

revision = '0005_province'
down_revision = '0004_fleet'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('incidents', 'calls'):
        op.add_column(table, sa.Column('city', sa.String(length=63), nullable=True))
        op.create_index(f'ix_{table}_city', table, ['city'], unique=False)
    op.create_table(
        'city_devices',
        sa.Column('city', sa.String(length=63), nullable=False),
        sa.Column('device_id', sa.String(length=63), nullable=False),
        sa.Column('first_seen', sa.DateTime(), nullable=False),
        sa.Column('last_seen', sa.DateTime(), nullable=False),
        sa.Column('incidents', sa.Integer(), nullable=False),
        sa.Column('calls', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('city', 'device_id'),
    )


def downgrade() -> None:
    op.drop_table('city_devices')
    # plain DROP COLUMN, as 0003_calltypes: a batch table copy would trip the foreign keys
    for table in ('calls', 'incidents'):
        op.drop_index(f'ix_{table}_city', table_name=table)
        op.drop_column(table, 'city')
