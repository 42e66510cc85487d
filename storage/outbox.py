"""The durable outbox: claiming due messages, and recording what Telegram did with them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.claims import claim
from storage.db import rows_changed
from storage.models import Association, EnrolledChat, OutboxMessage, Ticket, hour, now
from storage.routing import remember, remember_sent

WAITING = ("pending", "held")
"""Rows still to send: a held one is sent when its hour passes or a moderator releases it."""
PRIORITY = case({"notice": 0, "alert": 1, "relay": 2}, value=OutboxMessage.kind, else_=3)
"""Notices first, then alerts, then a person's relays, then reminders and pass-on notes."""


async def claim_due(session: AsyncSession, *, lease: float, limit: int = 20) -> list[OutboxMessage]:
    """Waiting messages that are due and not claimed by a live sender, notices first; claims
    them for `lease` seconds, after which a claim is taken over (its sender died). Two
    senders never both win a row (storage.claims)."""
    waiting = OutboxMessage.status.in_(WAITING)
    due = or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now())
    candidates = select(OutboxMessage).where(waiting, due).order_by(PRIORITY, OutboxMessage.id).limit(limit)
    return await claim(session, OutboxMessage, candidates, [waiting], lease=lease)


async def mark_sent(session: AsyncSession, row: OutboxMessage, message_id: int) -> None:
    """Delivered: blank the text (a relay holds a person's words) and remember the message's
    ticket (a staff reply to it finds the ticket). A delivered notice makes its ticket
    "delivered": the person's screen says it arrived. A row deleted with its ticket while
    Telegram answered (a purge, the person's erasure) leaves a message to clear from the group."""
    recorded = await remember_sent(session, row.id, message_id)
    if not recorded and row.ticket_id is not None and await _deleted(session, row):
        remember(session, row.chat_id, message_id, None, row.locale)
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row.id)
        .values(
            status="sent",
            text="",
            sent_message_id=message_id,
            claimed_until=None,
            next_attempt_at=None,
            queued_at=None,
            sent_hour=hour(),
            error_class=None,
        )
    )
    if row.kind == "notice" and row.ticket_id is not None:
        await session.execute(
            update(Ticket).where(Ticket.id == row.ticket_id, Ticket.status == "sent").values(status="delivered")
        )


async def _deleted(session: AsyncSession, row: OutboxMessage) -> bool:
    """The row went with its ticket (by cascade) while Telegram was answering."""
    return await session.scalar(select(OutboxMessage.id).where(OutboxMessage.id == row.id)) is None


async def release(session: AsyncSession, row_ids: list[int]) -> None:
    """Hand claimed rows back unsent (this process is stopping): any sender may take them now."""
    if row_ids:
        await session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(row_ids)).values(claimed_until=None))


async def defer(session: AsyncSession, row: OutboxMessage, delay: float, error_class: str, *, counts: bool) -> None:
    """Try again in `delay` seconds. Only failures that `counts` add to the attempts."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row.id)
        .values(
            attempts=row.attempts + 1 if counts else row.attempts,
            status="pending",
            claimed_until=None,
            next_attempt_at=now() + dt.timedelta(seconds=delay) if delay > 0 else None,
            error_class=error_class,
        )
    )


async def give_up(session: AsyncSession, row: OutboxMessage, error_class: str) -> None:
    """Never to be sent: blanked. Callers queue an alert or pass the ticket on in the same transaction."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row.id)
        .values(status="failed", text="", claimed_until=None, error_class=error_class, given_up_at=hour())
    )


async def notices_this_hour(session: AsyncSession, chat_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.chat_id == chat_id, OutboxMessage.kind == "notice", OutboxMessage.sent_hour == hour())
        )
        or 0
    )


async def hold(session: AsyncSession, row: OutboxMessage) -> bool:
    """Hold a notice until the next hour; True when it is the first held for its chat (alert then)."""
    others = await session.scalar(
        select(OutboxMessage.id)
        .where(OutboxMessage.chat_id == row.chat_id, OutboxMessage.status == "held", OutboxMessage.id != row.id)
        .limit(1)
    )
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row.id)
        .values(status="held", claimed_until=None, next_attempt_at=hour() + dt.timedelta(hours=1), error_class="held")
    )
    return others is None


async def move_chat(session: AsyncSession, old_chat_id: int, new_chat_id: int) -> int:
    """Rows waiting for `old_chat_id` go to `new_chat_id` instead (a migration, a re-enrollment)."""
    return await rows_changed(
        session,
        update(OutboxMessage)
        .where(OutboxMessage.chat_id == old_chat_id, OutboxMessage.status.in_(WAITING))
        .values(chat_id=new_chat_id, next_attempt_at=None)
        .execution_options(synchronize_session=False),
    )


async def cancel_chat(session: AsyncSession, chat_id: int, reason: str) -> int:
    """Rows waiting for a chat that will not take them: blanked, never sent. The caller passes
    their tickets on (bot.jobs.pass_on_stranded) and tells the people who run the bot."""
    return await rows_changed(
        session,
        update(OutboxMessage)
        .where(OutboxMessage.chat_id == chat_id, OutboxMessage.status.in_(WAITING))
        .values(status="canceled", text="", claimed_until=None, error_class=reason, given_up_at=hour())
        .execution_options(synchronize_session=False),
    )


async def seconds_until_due(session: AsyncSession) -> float | None:
    """How long until the earliest waiting message is due again; None when nothing waits."""
    earliest = await session.scalar(
        select(OutboxMessage.next_attempt_at)
        .where(OutboxMessage.status.in_(WAITING))
        .order_by(OutboxMessage.next_attempt_at.is_not(None), OutboxMessage.next_attempt_at)
        .limit(1)
    )
    waiting = await session.scalar(select(OutboxMessage.id).where(OutboxMessage.status.in_(WAITING)).limit(1))
    if waiting is None:
        return None
    if earliest is None:
        return 0.0
    return max(0.0, (earliest - now()).total_seconds())


# -- for the people who run the bot ------------------------------------------------


async def health(session: AsyncSession, degraded_after: dt.timedelta) -> str:
    """ "degraded" when a pending message is older than `degraded_after` (held ones wait on
    purpose) or one was given up in the last 24 hours; else "ok"."""
    moment = now()
    old = await session.scalar(
        select(OutboxMessage.id)
        .where(OutboxMessage.status == "pending", OutboxMessage.queued_at <= moment - degraded_after)
        .limit(1)
    )
    given_up = await session.scalar(
        select(OutboxMessage.id)
        .where(OutboxMessage.status == "failed", OutboxMessage.given_up_at >= hour(moment) - dt.timedelta(hours=24))
        .limit(1)
    )
    return "degraded" if old is not None or given_up is not None else "ok"


async def backlog(session: AsyncSession) -> dict[str, tuple[int, dt.datetime | None]]:
    """For each waiting status (pending, held): how many rows, and when the oldest was queued. One query."""
    rows = await session.execute(
        select(OutboxMessage.status, func.count(OutboxMessage.id), func.min(OutboxMessage.queued_at))
        .where(OutboxMessage.status.in_(WAITING))
        .group_by(OutboxMessage.status)
    )
    return {status: (count, oldest) for status, count, oldest in rows.all()}


@dataclass(frozen=True)
class Listed:
    """A row as `passerelle outbox list` shows it: never its text."""

    id: int
    kind: str
    status: str
    age: dt.timedelta | None
    error_class: str | None
    attempts: int
    association: str | None
    ticket_id: int | None


async def list_rows(session: AsyncSession, *, everything: bool = False) -> list[Listed]:
    """Rows not sent (all rows with `everything`), oldest first, with their association's slug."""
    query = (
        select(OutboxMessage, Association.slug)
        .outerjoin(EnrolledChat, EnrolledChat.chat_id == OutboxMessage.chat_id)
        .outerjoin(Association, Association.id == EnrolledChat.association_id)
        .order_by(OutboxMessage.id)
    )
    if not everything:
        query = query.where(OutboxMessage.status != "sent")
    moment = now()
    return [
        Listed(
            row.id,
            row.kind,
            row.status,
            moment - since if (since := row.queued_at or row.given_up_at) else None,
            row.error_class,
            row.attempts,
            slug,
            row.ticket_id,
        )
        for row, slug in (await session.execute(query)).all()
    ]


async def retry(session: AsyncSession, row_id: int) -> str | None:
    """Send a waiting row now, a held one past the hourly limit; None when done, else why not."""
    row = await session.get(OutboxMessage, row_id)
    if row is None:
        return "no such message"
    if row.status not in WAITING:
        return f"it is {row.status}: nothing is kept to send again (its text was blanked)"
    row.status, row.released, row.next_attempt_at, row.claimed_until = "pending", True, None, None
    return None
