"""The handoff, as the bot shows it: the nearest association, the ticket, the notice.

Storage decides (`storage.directory.nearest`, `storage.tickets`); this module only turns its
answers into text in the right language, for the person and for the association.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from babel import Locale
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from dialogs.engine import Engine, SummaryLine
from dialogs.i18n import Catalogs, Translator
from dialogs.languages import own_name
from storage import stats
from storage.codes import masked
from storage.db import in_transaction
from storage.directory.nearest import Candidate, Match, load_candidates, nearest
from storage.models import Ticket
from storage.places import places
from storage.tickets import (
    NewTicket,
    association_by_slug,
    create_ticket,
    enrolled_chat,
    find_ticket,
    move_ticket,
    new_code,
    queue,
    reference,
)

ITEM = "  – "
"""Before each value of an answer that has several: one a line, since a value may hold a comma."""
RLM = "\u200f"
"""Right-to-left mark: leads each line of the association's card in a right-to-left language."""
CODE_MASK = "[…]"
"""What stands for the person's code if they paste it into a message to the association."""
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

    async def find_match(
        self, departement: str | None, *, fresh: bool = False, exclude: frozenset[str] = frozenset()
    ) -> Match | None:
        """The nearest association able to receive a notice now, from the département's point,
        other than those in `exclude`."""
        return match_for(await self.candidates(fresh), departement, exclude)

    async def skipped_nearer(self, departement: str | None, skip: frozenset[str]) -> bool:
        """Whether, but for `skip`, one of them would have been offered."""
        match = await self.find_match(departement)
        return match is not None and match.candidate.slug in skip


def match_for(
    candidates: Sequence[Candidate], departement: str | None, exclude: frozenset[str] = frozenset()
) -> Match | None:
    """The association to offer among `candidates`, measured from the département's reference
    point: the bot keeps no place finer than the département."""
    point = places().point(departement) if departement else None
    return nearest(candidates, departement, point, today(), exclude)


def distance_text(km: float, tr: Translator) -> str:
    """How far the association is from the département's reference point, which is where
    `find_match` measures from: the bot never knows where the person is."""
    return tr.gettext(texts.DISTANCE_KM).format(distance=tr.number(round(km) if km >= 10 else round(km, 1)))


def person_lines(lines: list[str], tr: Translator) -> str:
    """Lines for the person's screen, joined. In a right-to-left language each starts with a
    right-to-left mark: a line holding only a French name (association, town) has no Arabic
    letter to set its direction, so would align left."""
    lead = RLM if tr.rtl else ""
    return "\n".join(f"{lead}{line}" for line in lines)


def contact_card(candidate: Candidate, tr: Translator) -> str:
    """Name, town and whatever public contact details the directory holds: nothing invented.
    On the consent screen and the handoff screen, in the person's language."""
    _ = tr.gettext
    lines = [f"<b>{escape(tr.isolate(candidate.name))}</b>", escape(tr.isolate(candidate.city))]
    for label, value in (
        (texts.PHONE, candidate.phone),
        (texts.WEBSITE, candidate.website),
        (texts.HOURS, candidate.hours),
    ):
        if value:
            lines.append(f"{escape(_(label))} {escape(tr.isolate(value))}")
    return person_lines(lines, tr)


def no_association(departement: str | None) -> str:
    """Why nothing can be sent: no place was given, or none can receive requests now."""
    return texts.NO_ASSOCIATION if departement else texts.NO_PLACE


def association_block(
    match: Match | None, tr: Translator, *, sidestepped: bool = False, departement: str | None = None
) -> str:
    """What the consent screen says about where the notice would go: the recipient.
    `sidestepped`: a nearer one declined or passed on this person's earlier request, so is
    not offered. `departement`: the person's, None when they gave no place (hence no match)."""
    _ = tr.gettext
    if match is None:
        return f"<i>{escape(_(no_association(departement)))}</i>"
    lines = [f"<i>{escape(_(texts.ASSOCIATION_NEXT))}</i>"] if sidestepped else []
    if not sidestepped and not match.covers:
        lines.append(f"<i>{escape(_(texts.ASSOCIATION_OUTSIDE))}</i>")
    lines.append(f"<b>{escape(_(texts.RECIPIENT))}</b>")
    lines.append(folded(contact_card(match.candidate, tr)))
    if match.covers:  # a distance inside one's own département says nothing true about the person
        lines.append(escape(_(texts.IN_YOUR_DEPARTEMENT)))
    elif match.distance_km is not None:
        lines.append(escape(distance_text(match.distance_km, tr)))
    return "\n".join(lines)


@dataclass(frozen=True)
class NoticeFacts:
    """Everything a notice may say: coded answers and flags, never a person."""

    answers: dict[str, Any]
    locale: str
    departement: str | None
    version: str


TICKET = "ticket"
"""What a notice line may show besides answers: the ticket's number and the script version,"""
REFERENCE = "reference"
"""the ticket's reference (never the code, which opens the mailbox),"""
LANGUAGE = "language"
"""and the person's language. Every other line shows answers, named by their store key."""


@dataclass(frozen=True, slots=True)
class NoticeLine:
    """One line of a notice, and what it shows, so the consent screen can show it first."""

    text: str
    """HTML, in the association's language."""
    shows: tuple[str, ...]
    """TICKET, REFERENCE, LANGUAGE or answer keys: each has its line on the consent screen."""


def language_name(locale: str, tr: Translator) -> str:
    """`locale` named in `tr`'s language; in its own language, by the name the picker shows."""
    if locale == tr.locale:
        return own_name(locale)
    return Locale.parse(locale).get_display_name(Locale.parse(tr.locale)) or locale


def answer_lines(line: SummaryLine, tr: Translator) -> list[str]:
    """One answer in `tr`'s language and punctuation, HTML: "label : value" on one line or,
    with several values, the label then one value a line ("Droits, papiers, séjour" holds
    a comma). The notice and the consent screen are both worded here, from `Engine.summary`."""
    _ = tr.gettext
    label, separator = escape(_(line.label)), escape(_(texts.LABEL_SEPARATOR))
    values = [escape(_(v) if line.translate_values else tr.isolate(v)) for v in line.values]
    if len(values) > 1:
        return [f"{label}{separator.rstrip()}", *(f"{ITEM}{value}" for value in values)]
    return [f"{label}{separator}{values[0] if values else escape(_(texts.NOT_GIVEN))}"]


def notice_lines(
    engine: Engine, facts: NoticeFacts, ticket: Ticket, tr: Translator, *, passed: bool
) -> list[NoticeLine]:
    """The notice, line by line, in the association's language. Only coded answers and flags,
    and the ticket's reference: never the code, which would open the person's mailbox."""
    _ = tr.gettext
    script = engine.script

    def flagged(name: str) -> tuple[str, ...]:
        """A flag shows the answers it is raised by."""
        return tuple(script.flags.get(name, {}))

    title = texts.NOTICE_PASSED_TITLE if passed else texts.NOTICE_TITLE
    lines = [NoticeLine(f"<b>{escape(_(title).format(ticket=ticket.id))}</b>", (TICKET,))]
    shown_reference = _(texts.NOTICE_REFERENCE).format(reference=reference(ticket))  # gettext isolates {reference}
    lines.append(NoticeLine(escape(shown_reference), (REFERENCE,)))
    if script.flag("danger", facts.answers):
        lines.append(NoticeLine(f"<b>{escape(_(texts.NOTICE_DANGER))}</b>", flagged("danger")))
    if script.flag("minor", facts.answers):
        lines.append(NoticeLine(f"<b>{escape(_(texts.NOTICE_MINOR))}</b>", flagged("minor")))
    language_line = _(texts.NOTICE_LANGUAGE).format(language=language_name(facts.locale, tr))
    shows: tuple[str, ...] = (LANGUAGE,)
    if script.flag("interpreter", facts.answers):
        language_line += f" — {_(texts.NOTICE_INTERPRETER)}"
        shows += flagged("interpreter")
    lines.append(NoticeLine(escape(language_line), shows))
    for answer in engine.summary(facts.answers):
        lines += [NoticeLine(text, (answer.store,)) for text in answer_lines(answer, tr)]
    contact = texts.NOTICE_MAILBOX if script.flag("mailbox", facts.answers) else texts.NOTICE_SELF
    lines.append(NoticeLine(escape(_(contact)), flagged("mailbox")))
    lines.append(NoticeLine(escape(_(texts.NOTICE_VERSION).format(version=facts.version)), (TICKET,)))
    return lines


def render_notice(engine: Engine, facts: NoticeFacts, ticket: Ticket, tr: Translator, *, passed: bool) -> str:
    return "\n".join(line.text for line in notice_lines(engine, facts, ticket, tr, passed=passed))


def consent_lines(engine: Engine, answers: dict[str, Any], tr: Translator) -> dict[str, str]:
    """What a notice can show, as the person reads it first, in their language (HTML)."""
    _ = tr.gettext
    lines = {line.store: "\n".join(answer_lines(line, tr)) for line in engine.summary(answers)}
    lines[LANGUAGE] = escape(_(texts.NOTICE_LANGUAGE).format(language=language_name(tr.locale, tr)))
    lines[TICKET] = escape(_(texts.CONSENT_TICKET))
    lines[REFERENCE] = escape(_(texts.CONSENT_REFERENCE))
    return lines


def consent_block(
    engine: Engine, answers: dict[str, Any], tr: Translator, match: Match | None, *, sidestepped: bool = False
) -> str:
    """Above the consent question: everything the notice will carry, then who receives it.
    Both are folded, so the question stays on a small phone's screen: every line is in the
    message, and one tap opens it (see `folded`)."""
    shown = folded("\n".join(f"• {line}" for line in consent_lines(engine, answers, tr).values()))
    departement = answers.get("departement")
    placed = departement if isinstance(departement, str) else None
    recipient = association_block(match, tr, sidestepped=sidestepped, departement=placed)
    return f"<b>{escape(tr.gettext(texts.SUMMARY_TITLE))}</b>\n{shown}\n{recipient}"


def folded(html: str) -> str:
    """Telegram's expandable quote: its first lines show (dialogs.phone_lines.FOLDED_LINES),
    the rest opens with a tap on it. The text is all in the message, never behind a button."""
    return f"<blockquote expandable>{html}</blockquote>"


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

    def notice(ticket: Ticket, locale: str) -> str:
        return render_notice(engine, facts, ticket, catalogs.get(locale), passed=False)

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
    text = masked(text, code, CODE_MASK)  # the code opens the mailbox: never in a group
    queue(session, ticket, chat.chat_id, locale, "relay", f"<b>{escape(heading)}</b>\n{escape(text)}")
    return True


async def pass_on(
    session: AsyncSession,
    ticket: Ticket,
    engine: Engine,
    catalogs: Catalogs,
    *,
    timed_out: bool,
    candidates: list[Candidate] | None = None,
    unreachable: bool = False,
) -> Match | None:
    """Offer the ticket to the next nearest association it was not offered to yet.

    The notice to the next one carries the ticket's number and reference, like the first.
    On a timeout, the first association is told. `candidates`: the directory, when the
    caller passes several tickets on in one run and read it once. `unreachable`: the ticket's
    association cannot be reached (as the pass-on is counted: storage.stats).
    """
    if candidates is None:
        candidates = await load_candidates(session)
    point = places().point(ticket.departement) if ticket.departement else None
    match = nearest(candidates, ticket.departement, point, today(), frozenset(ticket.tried))
    if match is None:
        return None
    previous = ticket.association
    association = await association_by_slug(session, match.candidate.slug)
    if association is None:
        return None
    why = "unreachable" if unreachable else "timeout" if timed_out else "by_hand"
    chat = await move_ticket(session, ticket, association, why)
    if chat is None:
        return None
    facts = NoticeFacts(ticket.answers, ticket.locale, ticket.departement, ticket.script_version)
    locale = association.notice_locale
    notice = render_notice(engine, facts, ticket, catalogs.get(locale), passed=True)
    queue(session, ticket, chat.chat_id, locale, "notice", notice, buttons=True)
    if timed_out and previous is not None and previous.unreachable_since is None:
        old_chat = await enrolled_chat(session, previous.id)
        if old_chat is not None:
            note = catalogs.get(previous.notice_locale).gettext(texts.NOTICE_TIMEOUT).format(ticket=ticket.id)
            queue(session, ticket, old_chat.chat_id, previous.notice_locale, "info", escape(note))
    return match


async def reroute(
    session: AsyncSession,
    ticket: Ticket,
    engine: Engine,
    catalogs: Catalogs,
    candidates: list[Candidate] | None = None,
) -> bool:
    """Its association could not be reached: offer the ticket to the next one, and say so
    on the person's screen ("rerouted"), or that none could take it ("undelivered")."""
    moved = (
        await pass_on(session, ticket, engine, catalogs, timed_out=False, candidates=candidates, unreachable=True)
        is not None
    )
    if not moved and ticket.status != "undelivered":  # counted once: the sweep tries it again later
        await stats.count(session, "undelivered", stats.ticket_attributes(ticket, None))
    ticket.status = "rerouted" if moved else "undelivered"
    return moved
