"""routing: group messages mapped to their ticket, and a ticket's reference

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('group_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('chat_id', sa.BigInteger(), nullable=False),
    sa.Column('message_id', sa.BigInteger(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('locale', sa.String(length=16), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=False),
    sa.Column('claimed_until', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('chat_id', 'message_id')
    )
    op.create_index(op.f('ix_group_messages_ticket_id'), 'group_messages', ['ticket_id'], unique=False)
    # A plain ADD COLUMN: a batch copy of `tickets` on SQLite would cascade-delete its replies.
    op.add_column('tickets', sa.Column('reference', sa.String(length=8), nullable=False, server_default=''))


def downgrade() -> None:
    op.drop_column('tickets', 'reference')
    op.drop_index(op.f('ix_group_messages_ticket_id'), table_name='group_messages')
    op.drop_table('group_messages')
