"""accreditation warnings: which end of accreditation an association was last warned of

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs (nullable): no batch copy of `associations`, whose chats cascade.
    op.add_column('associations', sa.Column('warned_for', sa.Date(), nullable=True))
    op.add_column('associations', sa.Column('warned_days', sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column('associations', 'warned_days')
    op.drop_column('associations', 'warned_for')
