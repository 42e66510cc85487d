"""Tables. None of them holds anything about a person seeking help.

Association staff are not protected people: their chat ids are stored, since that is how
notices reach them. Tickets hold coded answers only, and their times to the hour.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON}


def now() -> dt.datetime:
    """Naive UTC, as the database stores it."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def hour(moment: dt.datetime | None = None) -> dt.datetime:
    """Now (or `moment`), to the hour: a stored time cannot be matched to Telegram's logs."""
    moment = moment or dt.datetime.now(dt.UTC)
    return moment.replace(minute=0, second=0, microsecond=0, tzinfo=None)


class Association(Base):
    """An accredited association, imported from the operator's verified directory."""

    __tablename__ = "associations"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    departements: Mapped[list[str]]
    city: Mapped[str] = mapped_column(String(100))
    latitude: Mapped[float]
    longitude: Mapped[float]
    accreditation_ref: Mapped[str] = mapped_column(String(200), default="")
    accredited_until: Mapped[dt.date] = mapped_column(Date)
    intake_open: Mapped[bool] = mapped_column(Boolean)
    languages: Mapped[list[str]] = mapped_column(default=list)
    services: Mapped[list[str]] = mapped_column(default=list)
    phone: Mapped[str] = mapped_column(String(50), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    website: Mapped[str] = mapped_column(String(300), default="")
    hours: Mapped[str] = mapped_column(String(300), default="")
    source: Mapped[str] = mapped_column(String(500), default="")
    verified_on: Mapped[dt.date | None] = mapped_column(Date, default=None)
    notice_locale: Mapped[str] = mapped_column(String(16), default="fr")
    unreachable_since: Mapped[dt.datetime | None] = mapped_column(DateTime, default=None)
    """Set when Telegram says its chat is gone (bot removed, chat deleted): closed for new
    requests until its team enrolls a chat again."""
    warned_for: Mapped[dt.date | None] = mapped_column(Date, default=None)
    """The `accredited_until` the last warning of its end was about (storage.coverage)."""
    warned_days: Mapped[int | None] = mapped_column(Integer, default=None)
    """That warning's level: 30 or 7 days before the end."""

    chats: Mapped[list[EnrolledChat]] = relationship(back_populates="association", cascade="all, delete-orphan")


class EnrolledChat(Base):
    """The Telegram chat (usually the team's group) where an association receives notices."""

    __tablename__ = "enrolled_chats"

    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id", ondelete="CASCADE"), unique=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    enrolled_at: Mapped[dt.datetime] = mapped_column(DateTime, default=hour)

    association: Mapped[Association] = relationship(back_populates="chats")


class EnrollmentCode(Base):
    """A one-time code an operator gives to a team, to bind its chat. Only the hash is kept."""

    __tablename__ = "enrollment_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id", ondelete="CASCADE"))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    used: Mapped[bool] = mapped_column(Boolean, default=False)


class Ticket(Base):
    """An anonymous handoff. Nothing links it to a Telegram account; its code is a bearer secret."""

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    association_id: Mapped[int | None] = mapped_column(ForeignKey("associations.id", ondelete="SET NULL"))
    answers: Mapped[dict[str, Any]]
    departement: Mapped[str | None] = mapped_column(String(3))
    locale: Mapped[str] = mapped_column(String(16))
    minor: Mapped[bool] = mapped_column(Boolean, default=False)
    danger: Mapped[bool] = mapped_column(Boolean, default=False)
    mailbox: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="sent")
    """sent (its notice is queued), delivered (the notice reached the association's chat),
    accepted, declined, passed_on (waiting at the next association), rerouted (passed on
    because the first could not be reached), undelivered (no association could be reached)."""
    script_version: Mapped[str] = mapped_column(String(64))
    tried: Mapped[list[str]] = mapped_column(default=list)
    """Slugs of the associations this ticket was already offered to (pass-on skips them)."""
    reference: Mapped[str] = mapped_column(String(8), default="")
    """Random symbols shown with the ticket's number to the person and in the notice, so a
    caller can be matched to a request; it opens nothing (see storage.tickets.reference)."""
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=hour)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=hour)
    reminded_association_id: Mapped[int | None] = mapped_column(Integer, default=None)
    """The association last reminded that this ticket waits (storage.tickets.due_reminders):
    each association it goes to is reminded once."""
    accepted_at: Mapped[dt.datetime | None] = mapped_column(DateTime, default=None)
    """The hour it was accepted: an association's median time to accept (storage.stats),
    over the tickets still held. Purged with the ticket."""

    association: Mapped[Association | None] = relationship()
    messages: Mapped[list[TicketMessage]] = relationship(
        back_populates="ticket", cascade="all, delete-orphan", order_by="TicketMessage.id"
    )


class TicketMessage(Base):
    """A reply from an association, which the person pulls with the ticket's code.

    A person's own answers are never stored here: they wait in the outbox, and are
    blanked there once delivered.
    """

    __tablename__ = "ticket_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=hour)

    ticket: Mapped[Ticket] = relationship(back_populates="messages")


class GroupMessage(Base):
    """A message the bot sent to an association chat about a ticket (a notice, a reply
    prompt, a relay): a staff reply to it belongs to that ticket. When the ticket is
    deleted, `ticket_id` becomes NULL and the bot deletes or blanks the message, then
    this row. Staff chats only: nothing here is about a person.
    """

    __tablename__ = "group_messages"
    __table_args__ = (UniqueConstraint("chat_id", "message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"), index=True)
    locale: Mapped[str] = mapped_column(String(16), default="fr")
    """The association's language, for the neutral line that replaces the message."""
    sent_at: Mapped[dt.datetime] = mapped_column(DateTime, default=hour)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(DateTime, default=None)
    """Set while one instance deletes or blanks the message, so another one does not."""


class OutboxMessage(Base):
    """A message to an association chat, written in the same transaction as what caused it.

    The sender delivers pending rows with retries; a row is marked sent in the same
    breath as Telegram accepts it, so a restart never sends it twice.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    """notice, relay (a person's answer), info (a reminder or a pass-on note), alert (to the
    people who run the bot). Sent in that order of priority, alerts after notices."""
    locale: Mapped[str] = mapped_column(String(16), default="fr")
    """The association's language, for the buttons rendered at sending time."""
    text: Mapped[str] = mapped_column(Text)
    """The rendered text, in the association's language; blanked once delivered (a relay holds a person's words)."""
    buttons: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(8), default="pending")
    """pending, held (over the association's hourly limit), sent, failed (given up, with an
    alert or a pass-on), canceled (its chat was unenrolled)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime, default=None)
    """None means due now; set only after a failure."""
    claimed_until: Mapped[dt.datetime | None] = mapped_column(DateTime, default=None)
    sent_message_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    error_class: Mapped[str | None] = mapped_column(String(16), default=None)
    """The class of the last failure (bot.transport.failures.Kind), or why it was canceled."""
    queued_at: Mapped[dt.datetime | None] = mapped_column(DateTime, default=lambda: now())
    """When it was written; cleared once sent. Gives the age, and the give-up bound."""
    sent_hour: Mapped[dt.datetime | None] = mapped_column(DateTime, default=None)
    """The hour it was sent (to the hour): counts notices per association per hour."""
    given_up_at: Mapped[dt.datetime | None] = mapped_column(DateTime, default=None)
    """When the sender gave it up (to the hour): /healthz reports the last 24 hours."""
    released: Mapped[bool] = mapped_column(Boolean, default=False)
    """A moderator released it (`passerelle outbox retry`): the hourly limit no longer holds it."""


class ScriptSnapshot(Base):
    """An approved script exactly as approved: the YAML source, by content hash."""

    __tablename__ = "script_snapshots"
    __table_args__ = (UniqueConstraint("script_id", "digest"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    script_id: Mapped[str] = mapped_column(String(32))
    digest: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)


class CatalogueSnapshot(Base):
    """An approved catalogue exactly as approved: the .po text, by the hash of what it serves."""

    __tablename__ = "catalogue_snapshots"
    __table_args__ = (UniqueConstraint("locale", "digest"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    locale: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)


class ModerationEvent(Base):
    """Who approved, rejected or rolled back what, and when. Moderators are staff, not
    protected people: their names and Telegram ids may be kept. The latest approve or
    rollback of a subject is what people are served."""

    __tablename__ = "moderation_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    action: Mapped[str] = mapped_column(String(16))
    """approve, reject or rollback."""
    script_id: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(16))
    """"script", or a locale for a catalogue."""
    digest: Mapped[str] = mapped_column(String(64))
    moderator: Mapped[str] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class StatCounter(Base):
    """One anonymous monthly counter: how many times `event` happened in `month` with one
    attribute's value (a language, a need, a département...). Never two attributes on one
    row, never a time finer than the month, never an id: no row describes a person. Kept
    when tickets are purged (storage.stats)."""

    __tablename__ = "stat_counters"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    """'YYYY-MM'."""
    event: Mapped[str] = mapped_column(String(16), primary_key=True)
    attribute: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
