"""The durable outbox: claiming due messages, and recording what Telegram did with them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxMessage
from storage.routing import remember_sent

MAX_ATTEMPTS = 20


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


async def claim_due(session: AsyncSession, *, lease: float, limit: int = 20) -> list[OutboxMessage]:
    """Pending messages that are due and not claimed by a live sender; claims them for
    `lease` seconds, after which a claim is taken over (its sender died).

    Each claim is a conditional UPDATE that only wins if the row is still unclaimed, so
    two senders never both win a row, on any database. On PostgreSQL the candidates are
    also locked with SKIP LOCKED, so concurrent senders pick different rows instead of
    racing for the same ones.
    """
    moment = now()
    free = or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until <= moment)
    query = (
        select(OutboxMessage)
        .where(
            OutboxMessage.status == "pending",
            or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= moment),
            free,
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    claimed = []
    until = moment + dt.timedelta(seconds=lease)
    for row in list(await session.scalars(query)):
        won = await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row.id, OutboxMessage.status == "pending", free)
            .values(claimed_until=until)
            .execution_options(synchronize_session=False)
        )
        if won.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(row)
    return claimed


async def mark_sent(session: AsyncSession, row_id: int, message_id: int) -> None:
    """Delivered: blank the text (a relay holds a person's words); remember the message's ticket."""
    await remember_sent(session, row_id, message_id)
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id)
        .values(status="sent", text="", sent_message_id=message_id, claimed_until=None, next_attempt_at=None)
    )


async def release(session: AsyncSession, row_ids: list[int]) -> None:
    """Hand claimed rows back unsent (this process is stopping): any sender may take them now."""
    if row_ids:
        await session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(row_ids)).values(claimed_until=None))


async def mark_retry(session: AsyncSession, row_id: int, delay: float, attempts: int) -> None:
    status = "failed" if attempts >= MAX_ATTEMPTS else "pending"
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id)
        .values(
            attempts=attempts,
            status=status,
            claimed_until=None,
            next_attempt_at=now() + dt.timedelta(seconds=delay),
            text="" if status == "failed" else OutboxMessage.text,
        )
    )


async def seconds_until_due(session: AsyncSession) -> float | None:
    """How long until the earliest pending message is due again; None when nothing waits."""
    earliest = await session.scalar(
        select(OutboxMessage.next_attempt_at)
        .where(OutboxMessage.status == "pending")
        .order_by(OutboxMessage.next_attempt_at.is_not(None), OutboxMessage.next_attempt_at)
        .limit(1)
    )
    pending = await session.scalar(select(OutboxMessage.id).where(OutboxMessage.status == "pending").limit(1))
    if pending is None:
        return None
    if earliest is None:
        return 0.0
    return max(0.0, (earliest - now()).total_seconds())
