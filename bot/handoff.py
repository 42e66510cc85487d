"""The handoff, as the bot shows it: the nearest association, the ticket, the notice.

Storage decides (`storage.directory`, `storage.tickets`); this module only turns its
answers into text in the right language, for the person and for the association.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from html import escape
from typing import Any

from babel import Locale
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from dialogs.engine import Engine
from dialogs.i18n import Catalogs, Translator
from storage.db import in_transaction
from storage.directory import Candidate, Match, load_candidates, nearest
from storage.models import Association
from storage.places import places
from storage.tickets import NewTicket, Ticket, create_ticket, enrolled_chat, find_ticket, move_ticket, new_code, queue

STATUS_TEXT = {
    "sent": texts.STATUS_QUEUED,
    "delivered": texts.STATUS_SENT,
    "rerouted": texts.STATUS_REROUTED,
    "undelivered": texts.STATUS_UNDELIVERED,
    "accepted": texts.STATUS_ACCEPTED,
    "declined": texts.STATUS_DECLINED,
    "passed_on": texts.STATUS_PASSED_ON,
}


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


class DirectoryCache:
    """The candidates for "nearest", read from the database at most every `ttl` seconds.

    The consent screen needs them on every conversation; the directory changes a few
    times a year (an import, an enrollment), so a minute's staleness costs nothing and
    keeps the database off the conversation's path. The handoff itself re-reads them.
    """

    def __init__(self, db: async_sessionmaker[AsyncSession], ttl: float = 60.0) -> None:
        self.db = db
        self.ttl = ttl
        self._candidates: list[Candidate] = []
        self._read_at = float("-inf")

    async def candidates(self, fresh: bool = False) -> list[Candidate]:
        loop_time = asyncio.get_running_loop().time()
        if fresh or loop_time - self._read_at > self.ttl:
            async with self.db() as session:
                self._candidates = await load_candidates(session)
            self._read_at = loop_time
        return self._candidates

    def expire(self) -> None:
        """Read the directory again at the next lookup (an association just became unreachable)."""
        self._read_at = float("-inf")

    async def find_match(self, departement: str | None, *, fresh: bool = False) -> Match | None:
        """The nearest association able to receive a notice now, from the département's point."""
        point = places().point(departement) if departement else None
        return nearest(await self.candidates(fresh), departement, point, today())


def distance_text(km: float, tr: Translator) -> str:
    return tr.gettext(texts.DISTANCE_KM).format(distance=tr.number(round(km) if km >= 10 else round(km, 1)))


def contact_card(candidate: Candidate, tr: Translator) -> str:
    """Name, town and whatever public contact details the directory holds: nothing invented."""
    _ = tr.gettext
    lines = [f"<b>{escape(tr.isolate(candidate.name))}</b>", escape(tr.isolate(candidate.city))]
    for label, value in ((texts.PHONE, candidate.phone), (texts.WEBSITE, candidate.website), (texts.HOURS, candidate.hours)):
        if value:
            lines.append(f"{escape(_(label))} {escape(tr.isolate(value))}")
    return "\n".join(lines)


def association_block(match: Match | None, tr: Translator) -> str:
    """What the consent screen says about where the notice would go."""
    _ = tr.gettext
    if match is None:
        return f"<i>{escape(_(texts.NO_ASSOCIATION))}</i>"
    lines = [] if match.covers else [f"<i>{escape(_(texts.ASSOCIATION_OUTSIDE))}</i>"]
    lines.append(f"<b>{escape(_(texts.ASSOCIATION_NEAREST))}</b>")
    lines.append(contact_card(match.candidate, tr))
    if match.distance_km is not None:
        lines.append(escape(distance_text(match.distance_km, tr)))
    return "\n".join(lines)


@dataclass(frozen=True)
class NoticeFacts:
    """Everything a notice may say: coded answers and flags, never a person."""

    answers: dict[str, Any]
    locale: str
    departement: str | None
    version: str


def render_notice(engine: Engine, facts: NoticeFacts, ticket_id: int, tr: Translator, code: str | None) -> str:
    """The notice, in the association's language. Only coded answers and flags."""
    _ = tr.gettext
    script = engine.script
    title = texts.NOTICE_TITLE if code else texts.NOTICE_PASSED_TITLE
    language = Locale.parse(facts.locale).get_display_name(Locale.parse(tr.locale)) or facts.locale
    lines = [f"<b>{escape(_(title).format(ticket=ticket_id))}</b>"]
    if code:
        lines.append(escape(_(texts.NOTICE_CODE).format(code=code)))
    if script.flag("danger", facts.answers):
        lines.append(f"<b>{escape(_(texts.NOTICE_DANGER))}</b>")
    if script.flag("minor", facts.answers):
        lines.append(f"<b>{escape(_(texts.NOTICE_MINOR))}</b>")
    language_line = _(texts.NOTICE_LANGUAGE).format(language=language)
    if script.flag("interpreter", facts.answers):
        language_line += f" — {_(texts.NOTICE_INTERPRETER)}"
    lines.append(escape(language_line))
    for line in engine.summary(facts.answers):
        values = [_(v) if line.translate_values else v for v in line.values]
        lines.append(f"{escape(_(line.label))} : {escape(', '.join(values))}")
    lines.append(escape(_(texts.NOTICE_MAILBOX if script.flag("mailbox", facts.answers) else texts.NOTICE_SELF)))
    lines.append(escape(_(texts.NOTICE_VERSION).format(version=facts.version)))
    return "\n".join(lines)


async def create_handoff(
    db: async_sessionmaker[AsyncSession],
    catalogs: Catalogs,
    engine: Engine,
    facts: NoticeFacts,
    match: Match,
) -> tuple[str, Ticket]:
    """A new code, the ticket and its notice in one transaction. Returns the code to show once."""
    code = new_code()
    script = engine.script
    new = NewTicket(
        code=code,
        answers=facts.answers,
        departement=facts.departement,
        locale=facts.locale,
        minor=script.flag("minor", facts.answers),
        danger=script.flag("danger", facts.answers),
        mailbox=script.flag("mailbox", facts.answers),
        script_version=facts.version,
        association_slug=match.candidate.slug,
    )

    def notice(ticket_id: int, locale: str) -> str:
        return render_notice(engine, facts, ticket_id, catalogs.get(locale), code)

    ticket = await in_transaction(db, lambda session: create_ticket(session, new, notice))
    return code, ticket


async def queue_relay(session: AsyncSession, catalogs: Catalogs, code: str, text: str) -> bool:
    """A person's answer, queued for the ticket's association; False when it cannot go."""
    ticket = await find_ticket(session, code)
    if ticket is None or ticket.association is None or not ticket.mailbox:
        return False
    chat = await enrolled_chat(session, ticket.association.id)
    if chat is None:
        return False
    locale = ticket.association.notice_locale
    heading = catalogs.get(locale).gettext(texts.RELAY_TITLE).format(ticket=ticket.id)
    queue(session, ticket, chat.chat_id, locale, "relay", f"<b>{escape(heading)}</b>\n{escape(text)}")
    return True


async def pass_on(
    session: AsyncSession, ticket: Ticket, engine: Engine, catalogs: Catalogs, *, timed_out: bool
) -> Match | None:
    """Offer the ticket to the next nearest association it was not offered to yet.

    The notice to the next one carries the ticket's number, not its code: only the
    code's hash is stored. On a timeout, the first association is told.
    """
    candidates = await load_candidates(session)
    point = places().point(ticket.departement) if ticket.departement else None
    match = nearest(candidates, ticket.departement, point, today(), frozenset(ticket.tried))
    if match is None:
        return None
    previous = ticket.association
    association = await session.scalar(select(Association).where(Association.slug == match.candidate.slug))
    if association is None:
        return None
    chat = await move_ticket(session, ticket, association)
    if chat is None:
        return None
    facts = NoticeFacts(ticket.answers, ticket.locale, ticket.departement, ticket.script_version)
    locale = association.notice_locale
    queue(session, ticket, chat.chat_id, locale, "notice", render_notice(engine, facts, ticket.id, catalogs.get(locale), None), buttons=True)
    if timed_out and previous is not None and previous.unreachable_since is None:
        old_chat = await enrolled_chat(session, previous.id)
        if old_chat is not None:
            note = catalogs.get(previous.notice_locale).gettext(texts.NOTICE_TIMEOUT).format(ticket=ticket.id)
            queue(session, ticket, old_chat.chat_id, previous.notice_locale, "info", escape(note))
    return match


async def reroute(session: AsyncSession, ticket: Ticket, engine: Engine, catalogs: Catalogs) -> bool:
    """Its association could not be reached: offer the ticket to the next one, and say so
    on the person's screen ("rerouted"), or that none could take it ("undelivered")."""
    moved = await pass_on(session, ticket, engine, catalogs, timed_out=False) is not None
    ticket.status = "rerouted" if moved else "undelivered"
    return moved
