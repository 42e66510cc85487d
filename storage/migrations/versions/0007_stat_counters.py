"""stat counters: anonymous one-attribute monthly counts, and a ticket's hour of acceptance

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('stat_counters',
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('event', sa.String(length=16), nullable=False),
    sa.Column('attribute', sa.String(length=16), nullable=False),
    sa.Column('value', sa.String(length=64), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('month', 'event', 'attribute', 'value')
    )
    # A plain ADD COLUMN: a batch copy of `tickets` on SQLite would cascade-delete its replies.
    op.add_column('tickets', sa.Column('accepted_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column('tickets', 'accepted_at')
    op.drop_table('stat_counters')
