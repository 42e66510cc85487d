"""Which ticket a message in an association chat belongs to, by (chat_id, message_id).

A staff reply is routed by the message it answers, looked up here: never by text inside
a message, which a person may have written. When a ticket is deleted, its rows lose
their ticket (ON DELETE SET NULL) and wait for the bot to delete or blank the messages.
"""

from __future__ import annotations

from sqlalchemy import and_, delete, exists, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.claims import claim
from storage.db import rows_changed
from storage.models import GroupMessage, OutboxMessage, hour


def remember(session: AsyncSession, chat_id: int, message_id: int, ticket_id: int | None, locale: str) -> None:
    """A message the bot just sent about `ticket_id` (a reply prompt); None: a ticket deleted
    meanwhile, whose message waits to be cleared."""
    session.add(GroupMessage(chat_id=chat_id, message_id=message_id, ticket_id=ticket_id, locale=locale))


async def remember_sent(session: AsyncSession, row_id: int, message_id: int) -> bool:
    """An outbox row Telegram accepted as `message_id`: map it to the row's ticket, if any.
    False when nothing was mapped (no ticket, the row deleted with its ticket, or mapped already)."""
    row = OutboxMessage.__table__.c
    mapped = await rows_changed(
        session,
        insert(GroupMessage).from_select(
            ["chat_id", "message_id", "ticket_id", "locale", "sent_at"],
            select(row.chat_id, literal(message_id), row.ticket_id, row.locale, literal(hour())).where(
                row.id == row_id,
                row.ticket_id.is_not(None),
                ~exists().where(and_(GroupMessage.chat_id == row.chat_id, GroupMessage.message_id == message_id)),
            ),
        ),
    )
    return bool(mapped)


async def ticket_of(session: AsyncSession, chat_id: int, message_id: int) -> int | None:
    """The ticket a bot message in this chat was about; None if unknown or deleted since."""
    return await session.scalar(
        select(GroupMessage.ticket_id).where(GroupMessage.chat_id == chat_id, GroupMessage.message_id == message_id)
    )


async def claim_orphans(session: AsyncSession, *, lease: float, limit: int = 100) -> list[GroupMessage]:
    """Messages of deleted tickets, claimed for `lease` seconds by this instance (storage.claims)."""
    orphan = GroupMessage.ticket_id.is_(None)
    candidates = select(GroupMessage).where(orphan).order_by(GroupMessage.id).limit(limit)
    return await claim(session, GroupMessage, candidates, [orphan], lease=lease)


async def forget(session: AsyncSession, row_ids: list[int]) -> None:
    """Done with these messages (deleted or blanked in the chat)."""
    if row_ids:
        await session.execute(delete(GroupMessage).where(GroupMessage.id.in_(row_ids)))


async def release(session: AsyncSession, row_ids: list[int]) -> None:
    """Try these again at the next run (Telegram did not answer)."""
    if row_ids:
        await session.execute(update(GroupMessage).where(GroupMessage.id.in_(row_ids)).values(claimed_until=None))
