"""Which ticket a message in an association chat belongs to, by (chat_id, message_id).

A staff reply is routed by the message it answers, looked up here: never by text inside
a message, which a person may have written. When a ticket is deleted, its rows lose
their ticket (ON DELETE SET NULL) and wait for the bot to delete or blank the messages.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, delete, exists, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import GroupMessage, OutboxMessage, hour


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def on_postgresql(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "postgresql"


def remember(session: AsyncSession, chat_id: int, message_id: int, ticket_id: int | None, locale: str) -> None:
    """A message the bot just sent about `ticket_id` (a reply prompt); None: a ticket deleted
    meanwhile, whose message waits to be cleared."""
    session.add(GroupMessage(chat_id=chat_id, message_id=message_id, ticket_id=ticket_id, locale=locale))


async def remember_sent(session: AsyncSession, row_id: int, message_id: int) -> bool:
    """An outbox row Telegram accepted as `message_id`: map it to the row's ticket, if any.
    False when nothing was mapped (no ticket, the row deleted with its ticket, or mapped already)."""
    row = OutboxMessage.__table__.c
    mapped = await session.execute(
        insert(GroupMessage).from_select(
            ["chat_id", "message_id", "ticket_id", "locale", "sent_at"],
            select(row.chat_id, literal(message_id), row.ticket_id, row.locale, literal(hour())).where(
                row.id == row_id,
                row.ticket_id.is_not(None),
                ~exists().where(and_(GroupMessage.chat_id == row.chat_id, GroupMessage.message_id == message_id)),
            ),
        )
    )
    return bool(mapped.rowcount)  # type: ignore[attr-defined]


async def ticket_of(session: AsyncSession, chat_id: int, message_id: int) -> int | None:
    """The ticket a bot message in this chat was about; None if unknown or deleted since."""
    return await session.scalar(
        select(GroupMessage.ticket_id).where(GroupMessage.chat_id == chat_id, GroupMessage.message_id == message_id)
    )


async def claim_orphans(session: AsyncSession, *, lease: float, limit: int = 100) -> list[GroupMessage]:
    """Messages of deleted tickets, claimed for `lease` seconds by this instance.

    The same claim as `storage.outbox.claim_due`: a conditional UPDATE per row that only
    wins while the row is unclaimed, and SKIP LOCKED on PostgreSQL.
    """
    moment = now()
    free = or_(GroupMessage.claimed_until.is_(None), GroupMessage.claimed_until <= moment)
    query = select(GroupMessage).where(GroupMessage.ticket_id.is_(None), free).order_by(GroupMessage.id).limit(limit)
    if on_postgresql(session):
        query = query.with_for_update(skip_locked=True)
    until = moment + dt.timedelta(seconds=lease)
    claimed = []
    for row in list(await session.scalars(query)):
        won = await session.execute(
            update(GroupMessage)
            .where(GroupMessage.id == row.id, GroupMessage.ticket_id.is_(None), free)
            .values(claimed_until=until)
            .execution_options(synchronize_session=False)
        )
        if won.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(row)
    return claimed


async def forget(session: AsyncSession, row_ids: list[int]) -> None:
    """Done with these messages (deleted or blanked in the chat)."""
    if row_ids:
        await session.execute(delete(GroupMessage).where(GroupMessage.id.in_(row_ids)))


async def release(session: AsyncSession, row_ids: list[int]) -> None:
    """Try these again at the next run (Telegram did not answer)."""
    if row_ids:
        await session.execute(update(GroupMessage).where(GroupMessage.id.in_(row_ids)).values(claimed_until=None))
