"""What an association's team reads and sets from its own chat: intake paused or open, and
the requests it holds. The handlers check who may ask (bot.handlers.team); this module
answers for one association only, so no team ever reads another's requests.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import rows_changed
from storage.models import Association, OutboxMessage, Ticket, TicketMessage

HELD_STATUSES = ("sent", "delivered", "passed_on", "rerouted", "accepted")
"""A request the team holds: not yet accepted, or accepted and still followed. Declined,
passed on elsewhere and undelivered ones are no longer its own."""
SHOWN_TICKETS = 10
"""At most this many in one answer, oldest first: a chat message has 4,096 characters."""


async def set_intake(session: AsyncSession, association_id: int, *, open_: bool) -> bool:
    """Open or pause new requests; True when this changed something. Open requests stay.
    A later directory import sets `intake_open` as its file says."""
    changed = await rows_changed(
        session,
        update(Association)
        .where(Association.id == association_id, Association.intake_open.is_not(open_))
        .values(intake_open=open_)
        .execution_options(synchronize_session=False),
    )
    return bool(changed)


@dataclass(frozen=True)
class HeldTicket:
    ticket: Ticket
    person_waiting: bool
    """The person wrote after the team's last reply (or wrote, and the team never replied)."""


async def held_tickets(session: AsyncSession, association_id: int) -> tuple[list[HeldTicket], int]:
    """The association's requests, oldest first (at most SHOWN_TICKETS), and how many in all."""
    held = (Ticket.association_id == association_id, Ticket.status.in_(HELD_STATUSES))
    total = int(await session.scalar(select(func.count()).select_from(Ticket).where(*held)) or 0)
    tickets = list(await session.scalars(select(Ticket).where(*held).order_by(Ticket.id).limit(SHOWN_TICKETS)))
    ids = [t.id for t in tickets]
    last_relay = dict(
        (
            await session.execute(
                select(OutboxMessage.ticket_id, func.max(OutboxMessage.queued_at))
                .where(OutboxMessage.ticket_id.in_(ids), OutboxMessage.kind == "relay")
                .group_by(OutboxMessage.ticket_id)
            )
        ).all()
    )
    last_reply = dict(
        (
            await session.execute(
                select(TicketMessage.ticket_id, func.max(TicketMessage.created_at))
                .where(TicketMessage.ticket_id.in_(ids))
                .group_by(TicketMessage.ticket_id)
            )
        ).all()
    )
    return [HeldTicket(t, _after(last_relay.get(t.id), last_reply.get(t.id))) for t in tickets], total


def _after(relay: dt.datetime | None, reply: dt.datetime | None) -> bool:
    """Replies are kept to the hour: a message of the person in the same hour as a reply
    counts as waiting, since a team had better look once too often than miss one."""
    if relay is None:
        return False
    return reply is None or relay.replace(minute=0, second=0, microsecond=0) >= reply
