"""Tickets: anonymous handoffs, their codes, replies, and the association's actions on them.

A code is a bearer secret: only its hash is stored, and nothing links a ticket to a
Telegram account. Every change that must reach an association is written to the outbox
in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage import codes, stats
from storage.db import on_postgresql, rows_changed
from storage.models import Association, EnrolledChat, OutboxMessage, Ticket, TicketMessage, hour
from storage.routing import ticket_of

CODE_GROUPS = 3
CODE_GROUP_LENGTH = 4
"""12 symbols: 60 bits of entropy, shown as XXXX-XXXX-XXXX."""
REFERENCE_LENGTH = 4
"""Random symbols of a ticket's reference: one in a million for a caller who guesses."""
PURGE_BATCH = 500
OPEN_STATUSES = ("sent", "delivered", "passed_on", "rerouted", "undelivered")

Action = Literal["accept", "decline"]


def new_code() -> str:
    return codes.generate(CODE_GROUPS, CODE_GROUP_LENGTH)


def normalise_code(text: str) -> str | None:
    """'abcd efgh-jkmn' -> 'ABCD-EFGH-JKMN'; None when it cannot be a code."""
    symbols = codes.read(text, CODE_GROUPS * CODE_GROUP_LENGTH)
    if symbols is None:
        return None
    return "-".join(symbols[i : i + CODE_GROUP_LENGTH] for i in range(0, len(symbols), CODE_GROUP_LENGTH))


def code_hash(code: str) -> str:
    return codes.digest(code)


def reference(ticket: Ticket) -> str:
    """What the person's screen and the notice both show, e.g. '42-K7PX': the ticket's
    number and random symbols drawn apart from the code. It matches a person who calls or
    visits to their request and opens nothing: it is not a code, and the code cannot be
    worked out from it. Tickets from before references existed show their number only."""
    return f"{ticket.id}-{ticket.reference}" if ticket.reference else str(ticket.id)


@dataclass(frozen=True)
class NewTicket:
    code: str
    answers: dict[str, Any]
    departement: str | None
    locale: str
    minor: bool
    danger: bool
    mailbox: bool
    script_version: str
    association_slug: str


async def enrolled_chat(session: AsyncSession, association_id: int) -> EnrolledChat | None:
    return await session.scalar(select(EnrolledChat).where(EnrolledChat.association_id == association_id))


async def create_ticket(session: AsyncSession, new: NewTicket, notice: Callable[[Ticket, str], str]) -> Ticket:
    """The ticket and its notice, in one transaction: both exist, or neither does.

    `notice(ticket, locale)` renders the notice, which names the ticket's number and reference.
    Idempotent for one code: run again after a lost connection whose commit did go
    through, it returns that ticket instead of making a second one (and a second notice).
    """
    existing = await session.scalar(select(Ticket).where(Ticket.code_hash == code_hash(new.code)))
    if existing is not None:
        return existing
    association = await association_by_slug(session, new.association_slug)
    if association is None:
        raise LookupError(f"unknown association {new.association_slug!r}")
    chat = await enrolled_chat(session, association.id)
    if chat is None:
        raise LookupError(f"association {new.association_slug!r} has no enrolled chat")
    ticket = Ticket(
        code_hash=code_hash(new.code),
        association_id=association.id,
        answers=new.answers,
        departement=new.departement,
        locale=new.locale,
        minor=new.minor,
        danger=new.danger,
        mailbox=new.mailbox,
        script_version=new.script_version,
        tried=[association.slug],
        reference=codes.generate(1, REFERENCE_LENGTH),
    )
    session.add(ticket)
    await session.flush()
    attributes = stats.ticket_attributes(ticket, association.slug)
    await stats.count(session, "handoff", {**attributes, **stats.answer_attributes(new.answers)})
    await stats.count(session, "offer", {"association": association.slug})
    text = notice(ticket, association.notice_locale)
    queue(session, ticket, chat.chat_id, association.notice_locale, "notice", text, buttons=True)
    return ticket


def queue(
    session: AsyncSession,
    ticket: Ticket,
    chat_id: int,
    locale: str,
    kind: str,
    text: str,
    *,
    buttons: bool = False,
) -> OutboxMessage:
    """Add a message for an association chat to the outbox, in the caller's transaction."""
    row = OutboxMessage(
        ticket_id=ticket.id,
        chat_id=chat_id,
        kind=kind,
        locale=locale,
        text=text,
        buttons=buttons,
    )
    session.add(row)
    return row


async def find_ticket(session: AsyncSession, code: str) -> Ticket | None:
    return await session.scalar(
        select(Ticket)
        .where(Ticket.code_hash == code_hash(code))
        .options(selectinload(Ticket.messages), selectinload(Ticket.association))
    )


async def delete_ticket(session: AsyncSession, code: str) -> bool:
    return bool(await rows_changed(session, delete(Ticket).where(Ticket.code_hash == code_hash(code))))


@dataclass(frozen=True)
class Refusal:
    reason: Literal["not_yours", "already_done", "gone"]


async def ticket_for_chat(session: AsyncSession, ticket_id: int, chat_id: int) -> Ticket | Refusal:
    """The ticket, if `chat_id` is the enrolled chat of its current association; held until
    the caller's transaction ends.

    Held by an UPDATE that only matches while the ticket is still that association's: a
    pass-on committed meanwhile (the timer, another instance) is seen, never overwritten
    by a button pressed in the chat it just left.
    """
    ticket = await session.get(Ticket, ticket_id, options=[selectinload(Ticket.association)])
    if ticket is None:
        return Refusal("gone")
    chat = await enrolled_chat(session, ticket.association_id) if ticket.association_id else None
    if chat is None or chat.chat_id != chat_id:
        return Refusal("not_yours")
    held = await rows_changed(
        session,
        update(Ticket)
        .where(Ticket.id == ticket_id, Ticket.association_id == ticket.association_id)
        .values(association_id=ticket.association_id)
        .execution_options(synchronize_session=False),
    )
    if held != 1:
        return Refusal("not_yours")
    await session.refresh(ticket)
    return ticket


async def open_ticket_for_chat(session: AsyncSession, ticket_id: int, chat_id: int) -> Ticket | Refusal:
    """`ticket_for_chat`, refused as already done once it was accepted or declined: what
    may still be accepted, declined or passed on."""
    ticket = await ticket_for_chat(session, ticket_id, chat_id)
    if not isinstance(ticket, Refusal) and ticket.status not in OPEN_STATUSES:
        return Refusal("already_done")
    return ticket


async def decide(session: AsyncSession, ticket_id: int, chat_id: int, action: Action) -> Ticket | Refusal:
    ticket = await open_ticket_for_chat(session, ticket_id, chat_id)
    if isinstance(ticket, Refusal):
        return ticket
    ticket.status = "accepted" if action == "accept" else "declined"
    ticket.updated_at = hour()
    attributes = stats.ticket_attributes(ticket, ticket.association.slug if ticket.association else None)
    if action == "accept":
        ticket.accepted_at = ticket.updated_at
        attributes["time_to_accept"] = stats.accept_bucket(ticket.created_at, ticket.accepted_at)
    await stats.count(session, action, attributes)
    return ticket


def passed_over(ticket: Ticket) -> list[str]:
    """Slugs of the associations that declined this ticket or passed it on (by hand or
    by timeout): every one it was offered to, but the one that holds it still open."""
    return list(ticket.tried) if ticket.status == "declined" else list(ticket.tried[:-1])


async def add_reply(session: AsyncSession, ticket_id: int, chat_id: int, body: str) -> Ticket | Refusal:
    """Store the reply whole: its length is checked before (bot.conversation.mailbox.MAX_REPLY), never cut here."""
    ticket = await ticket_for_chat(session, ticket_id, chat_id)
    if isinstance(ticket, Refusal):
        return ticket
    session.add(TicketMessage(ticket_id=ticket.id, body=body))
    ticket.updated_at = hour()
    await stats.count(session, "reply", {"association": ticket.association.slug if ticket.association else None})
    return ticket


async def reply_to_message(session: AsyncSession, chat_id: int, message_id: int, body: str) -> Ticket | Refusal:
    """A staff reply, routed by the bot message it answers: never by anything in a text."""
    ticket_id = await ticket_of(session, chat_id, message_id)
    if ticket_id is None:
        return Refusal("gone")
    return await add_reply(session, ticket_id, chat_id, body)


async def association_by_slug(session: AsyncSession, slug: str) -> Association | None:
    return await session.scalar(select(Association).where(Association.slug == slug))


async def association_of_chat(session: AsyncSession, chat_id: int) -> Association | None:
    """The association enrolled in this chat, if any."""
    return await session.scalar(select(Association).join(EnrolledChat).where(EnrolledChat.chat_id == chat_id))


async def move_ticket(
    session: AsyncSession, ticket: Ticket, association: Association, why: str = "by_hand"
) -> EnrolledChat | None:
    """Make `association` the ticket's current one; returns its chat for the new notice.
    `why`: by_hand, timeout or unreachable, as the pass-on is counted."""
    chat = await enrolled_chat(session, association.id)
    if chat is None:
        return None
    previous = ticket.tried[-1] if ticket.tried else None
    await stats.count(session, "pass_on", {**stats.ticket_attributes(ticket, previous), "outcome": why})
    await stats.count(session, "offer", {"association": association.slug})
    ticket.association_id = association.id
    ticket.tried = [*ticket.tried, association.slug]
    ticket.status = "passed_on"
    ticket.updated_at = hour()
    return chat


async def stranded(session: AsyncSession) -> list[Ticket]:
    """Open tickets whose association can no longer receive anything: unreachable, or unenrolled.

    On PostgreSQL the rows are locked, SKIP LOCKED, until the caller's transaction ends, so
    two instances never pass the same ticket on twice.
    """
    enrolled = select(EnrolledChat.association_id)
    query = (
        select(Ticket)
        .join(Association, Association.id == Ticket.association_id)
        .where(
            Ticket.status.in_(OPEN_STATUSES),
            Association.unreachable_since.is_not(None) | Association.id.not_in(enrolled),
        )
        .options(selectinload(Ticket.association))
        .order_by(Ticket.id)
    )
    if on_postgresql(session):
        query = query.with_for_update(of=Ticket, skip_locked=True)
    return list(await session.scalars(query))


async def overdue(session: AsyncSession, accept_hours: int, now: dt.datetime | None = None) -> list[int]:
    """Open tickets nobody accepted in time, oldest first (claim each with `claim_overdue`)."""
    rows = await session.scalars(select(Ticket.id).where(*_overdue(accept_hours, now)).order_by(Ticket.id))
    return list(rows)


def _overdue(accept_hours: int, now: dt.datetime | None) -> tuple[Any, ...]:
    limit = hour(now) - dt.timedelta(hours=accept_hours)
    return Ticket.status.in_(OPEN_STATUSES), Ticket.updated_at <= limit


async def due_reminders(
    session: AsyncSession, accept_hours: int, remind_hours: int, now: dt.datetime | None = None
) -> list[tuple[Ticket, EnrolledChat]]:
    """Open tickets whose pass-on comes within `remind_hours`, with the chat to remind; each
    claimed in this transaction, so its association is reminded once (of two instances, one
    wins the conditional UPDATE). An overdue ticket gets its pass-on, not a late reminder."""
    if not remind_hours:
        return []
    moment = hour(now)
    soon = (
        Ticket.status.in_(OPEN_STATUSES),
        Ticket.status != "undelivered",
        Ticket.association_id.is_not(None),
        Ticket.updated_at <= moment - dt.timedelta(hours=accept_hours - remind_hours),
        Ticket.updated_at > moment - dt.timedelta(hours=accept_hours),
        or_(Ticket.reminded_association_id.is_(None), Ticket.reminded_association_id != Ticket.association_id),
    )
    due = []
    for ticket_id in list(await session.scalars(select(Ticket.id).where(*soon).order_by(Ticket.id))):
        won = await rows_changed(
            session,
            update(Ticket)
            .where(Ticket.id == ticket_id, *soon)
            .values(reminded_association_id=Ticket.association_id)
            .execution_options(synchronize_session=False),
        )
        if not won:
            continue
        ticket = await session.get(Ticket, ticket_id, options=[selectinload(Ticket.association)])
        chat = await enrolled_chat(session, ticket.association_id) if ticket and ticket.association_id else None
        if ticket is not None and chat is not None:
            due.append((ticket, chat))
    return due


async def claim_overdue(
    session: AsyncSession, ticket_id: int, accept_hours: int, now: dt.datetime | None = None
) -> Ticket | None:
    """The ticket, if it is still overdue and this transaction is the one to pass it on.

    Call first thing in the transaction. A conditional UPDATE that restarts its clock wins
    only while the ticket is still overdue, so of two instances one wins and the other
    sees the fresh time; on PostgreSQL, SKIP LOCKED first, so the other does not wait.
    """
    still = (Ticket.id == ticket_id, *_overdue(accept_hours, now))
    if (
        on_postgresql(session)
        and await session.scalar(select(Ticket.id).where(*still).with_for_update(skip_locked=True)) is None
    ):
        return None
    won = await rows_changed(
        session,
        update(Ticket).where(*still).values(updated_at=hour(now)).execution_options(synchronize_session=False),
    )
    if won != 1:
        return None
    return await session.get(Ticket, ticket_id, options=[selectinload(Ticket.association)], populate_existing=True)


async def purge(session: AsyncSession, retention_days: int, now: dt.datetime | None = None) -> int:
    """Delete tickets (and, by cascade, their replies and outbox rows) past retention.

    Their group messages lose their ticket and wait for the bot to delete or blank them.
    Rows are taken in batches, with SKIP LOCKED on PostgreSQL, so two instances purging
    together split the work; the DELETE re-checks the age, so it removes nothing twice.
    """
    limit = hour(now) - dt.timedelta(days=retention_days)
    removed = 0
    while True:
        query = select(Ticket.id).where(Ticket.created_at <= limit).order_by(Ticket.id).limit(PURGE_BATCH)
        if on_postgresql(session):
            query = query.with_for_update(skip_locked=True)
        ids = list(await session.scalars(query))
        if not ids:
            return removed
        deleted = await rows_changed(session, delete(Ticket).where(Ticket.id.in_(ids), Ticket.created_at <= limit))
        if not deleted:
            return removed
        removed += deleted
