"""reminders: which association was last reminded that a ticket waits

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN: a batch copy of `tickets` on SQLite would cascade-delete its replies.
    op.add_column('tickets', sa.Column('reminded_association_id', sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column('tickets', 'reminded_association_id')
