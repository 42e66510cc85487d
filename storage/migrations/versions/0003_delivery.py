"""delivery: unreachable associations, failure classes, held notices

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('associations') as batch:
        batch.add_column(sa.Column('unreachable_since', sa.DateTime(), nullable=True))
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('error_class', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('queued_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('sent_hour', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('given_up_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('released', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute("UPDATE outbox SET queued_at = CURRENT_TIMESTAMP WHERE status = 'pending'")


def downgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('released')
        batch.drop_column('given_up_at')
        batch.drop_column('sent_hour')
        batch.drop_column('queued_at')
        batch.drop_column('error_class')
    with op.batch_alter_table('associations') as batch:
        batch.drop_column('unreachable_since')
