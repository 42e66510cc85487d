"""One person's turn: read their memory, ask the engine, show the screen, keep the memory.

Handlers call these functions and nothing else, so every route through the bot shows
screens the same way: edited in place when a button was pressed on the current screen,
sent anew otherwise, never edited to identical content.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from html import escape
from typing import TypeVar

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import InlineKeyboardButton

from bot import handoff, stats, texts
from bot.callbacks import MailboxAction, MailboxButton
from bot.conversation import mailbox
from bot.conversation.erasure import ExitPlan
from bot.render import Rendered, button, footer, render_picker, render_screen
from bot.runtime import Runtime
from bot.state.memory import Memory
from dialogs.engine import Engine, State, Step
from dialogs.events import Event, EventOp, LocationInput, TextInput
from dialogs.i18n import Catalogs, Translator
from dialogs.languages import is_traditional_chinese, match_locale
from dialogs.telegram_text import fits
from storage.models import Ticket
from storage.tickets import code_hash, delete_ticket, find_ticket, normalise_code, passed_over, reference

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_PARSED_TEXT = 200
"""Longer text is never handed to a parser: no postcode or town is that long."""


@dataclass
class Turn:
    """One update from one person, in a private chat."""

    runtime: Runtime
    bot: Bot
    chat_id: int
    memory: Memory
    language_code: str | None = None
    pseudonym: str = ""
    """The HMAC of this person's ids: for rate limits, never stored with anything."""
    notices: list[str] = field(default_factory=list)
    answer_press: Callable[[], Awaitable[None]] | None = None
    """Answers the button press being handled, if any (set by bot.middlewares.AnswerPresses)."""
    leaving: ExitPlan | None = None
    """Set by a quick exit: started once the reset state is saved (bot.middlewares)."""
    save: Callable[[], Awaitable[None]] = field(default=lambda: _saved())
    """Writes the memory now (set by bot.middlewares.TurnMiddleware, which also does it last)."""

    @property
    def previewing(self) -> bool:
        return bool(self.memory.preview) and self.runtime.preview_engine is not None

    @property
    def catalogs(self) -> Catalogs:
        return self.runtime.preview.catalogs if self.previewing else self.runtime.catalogs

    @property
    def tr(self) -> Translator:
        locale = self.memory.locale or match_locale(self.language_code, self.catalogs.locales)
        return self.catalogs.get(locale or self.runtime.settings.default_locale)

    @property
    def engine(self) -> Engine:
        if self.previewing:
            assert self.runtime.preview_engine is not None
            return self.runtime.preview_engine
        return self.runtime.engine

    def notice(self) -> str | None:
        return "\n".join(self.notices) if self.notices else None

    def current_state(self) -> State | None:
        """The state, or None when it belongs to a script version no longer served."""
        state = self.memory.state
        if state is not None and state.version != self.engine.version:
            self.memory.state = None
            self.notices.append(texts.UPDATED)
            return None
        return state


async def _saved() -> None:
    return None


# -- showing things -----------------------------------------------------------


async def show(turn: Turn, rendered: Rendered, edit: int | None = None, *, protect: bool = False) -> None:
    """Edit the current screen in place when `edit` is it, otherwise send a new message.

    `protect`: the screen shows the code or replies, so it cannot be forwarded or saved
    (protect_content). Only a message sent that way is protected, and an edit keeps what it
    was sent with: an unprotected screen is replaced by a new protected message, then deleted.
    """
    memory = turn.memory
    if turn.previewing:  # a moderator must never mistake a preview for what people see
        rendered = Rendered.of(
            f"<b>🔍 PREVIEW</b>\n\n{rendered.text}", [list(r) for r in rendered.markup.inline_keyboard]
        )
    fingerprint = rendered.fingerprint
    replaced = None
    if edit is not None and edit == memory.screen_message and protect and not memory.protected:
        replaced = edit
    elif edit is not None and edit == memory.screen_message:
        if memory.shown == fingerprint:
            return
        try:
            await alongside_answer(
                turn,
                turn.bot.edit_message_text(
                    chat_id=turn.chat_id, message_id=edit, text=rendered.text, reply_markup=rendered.markup
                ),
            )
        except TelegramBadRequest:
            pass  # too old or gone: a new message below does the job
        else:
            memory.shown = fingerprint
            return
    sent = await alongside_answer(
        turn,
        turn.bot.send_message(
            chat_id=turn.chat_id, text=rendered.text, reply_markup=rendered.markup, protect_content=protect or None
        ),
    )
    memory.track(sent.message_id, int(sent.date.timestamp()))
    memory.replace_screen(sent.message_id)
    memory.protected = protect or None
    memory.shown = fingerprint
    if replaced is not None:
        await erase(turn, replaced)


async def alongside_answer(turn: Turn, request: Awaitable[T]) -> T:
    """`request`, with the button press being handled answered at the same time.

    Both are in flight at once, so the spinner stops with the new screen instead of one
    round trip later. The answer is sent once (the middleware checks), never blocks the
    screen, and a failure to answer is logged, not raised.
    """
    answer, turn.answer_press = turn.answer_press, None
    if answer is None:
        return await request
    answering = asyncio.ensure_future(answer())
    try:
        return await request
    finally:
        await answering


async def show_step(turn: Turn, step: Step, edit: int | None = None) -> None:
    turn.memory.state = step.state
    if step.notice:
        turn.notices.append(step.notice)
    stats.screen_shown(turn.runtime.db, step.screen.is_emergency, turn.tr.locale)
    preamble = None
    if step.screen.shows_summary:  # consent: what the notice would carry, and where it would go
        skip, departement, directory = await skipped(turn), _departement(step.state), turn.runtime.directory
        match = await directory.find_match(departement, exclude=skip)
        sidestepped = bool(skip) and match is not None and await directory.skipped_nearer(departement, skip)
        preamble = handoff.consent_block(turn.engine, step.state.answers, turn.tr, match, sidestepped=sidestepped)
    await show(turn, render_screen(step.screen, turn.tr, turn.engine.version, turn.notice(), preamble), edit)


def _departement(state: State) -> str | None:
    value = state.answers.get("departement")
    return value if isinstance(value, str) else None


async def show_current(turn: Turn, edit: int | None = None) -> None:
    """Show where the person is, starting the script when there is nothing yet; past a
    handoff (no script state, a ticket held), that is the mailbox."""
    if turn.memory.locale is None:
        await show_picker(turn, edit)
        return
    if turn.memory.state is None and turn.memory.ticket is not None:
        await open_mailbox(turn, turn.memory.ticket, edit)
        return
    state = turn.current_state()
    if state is None:
        await show_step(turn, turn.engine.start(), edit)
        return
    await show_step(turn, Step(state, turn.engine.render(state)), edit)


async def show_picker(turn: Turn, edit: int | None = None) -> None:
    runtime = turn.runtime
    rendered = render_picker(turn.catalogs.locales, runtime.picker_prompts, turn.tr, turn.engine.version, turn.notice())
    await show(turn, rendered, edit)


async def say(turn: Turn, message: str) -> None:
    """A short line in the person's language, tracked for quick exit."""
    sent = await turn.bot.send_message(chat_id=turn.chat_id, text=escape(turn.tr.gettext(message)))
    turn.memory.track(sent.message_id, int(sent.date.timestamp()))
    turn.memory.remember(sent.message_id)


# -- what a person does -------------------------------------------------------


async def start(turn: Turn) -> None:
    """/start: preselect the language from Telegram's code, or ask; then resume or begin."""
    if turn.memory.preview:  # a moderator leaves the preview
        turn.memory.preview = None
        turn.memory.state = None
    if turn.memory.locale is None:
        turn.memory.locale = match_locale(turn.language_code, turn.catalogs.locales)
        if turn.memory.locale and is_traditional_chinese(turn.language_code):
            turn.notices.append(texts.TRADITIONAL_CHINESE)
    await show_current(turn)


async def choose_language(turn: Turn, locale: str, edit: int | None) -> bool:
    if locale not in turn.catalogs.locales:
        return False
    turn.memory.locale = locale
    await show_current(turn, edit)
    return True


async def press(turn: Turn, version: str, event: Event, edit: int | None) -> str | None:
    """A script button. Returns a msgid for the callback answer when the press did nothing."""
    engine = turn.engine
    if event.op == EventOp.EMERGENCY:
        kept = turn.current_state()
        if turn.memory.locale is None:  # Telegram's language if we have it; if not, "back" returns to the picker
            turn.memory.locale = match_locale(turn.language_code, turn.catalogs.locales)
        await show_step(turn, engine.handle(kept or engine.start().state, event), edit)
        if kept is None and turn.memory.ticket is not None:
            turn.memory.state = None  # past a handoff: "Back" leads to the mailbox again
        return None
    state = turn.current_state()
    if state is None and turn.memory.ticket is not None and turn.memory.locale is not None:
        return await press_after_handoff(turn, event, edit)
    if state is None:
        if not turn.notices:
            turn.notices.append(texts.EXPIRED)
        await show_current(turn, edit)
        return None
    if version != engine.version:
        return texts.STALE_BUTTON
    step = engine.handle(state, event)
    if step.outcome == "stale":
        return texts.STALE_BUTTON
    if step.screen.action == "handoff":
        await hand_off(turn, state, step, edit)
        return None
    if turn.memory.locale is None:  # back from the emergency screen, opened on the language picker
        turn.memory.state = step.state
        await show_picker(turn, edit)
        return None
    await show_step(turn, step, edit)
    return None


async def press_after_handoff(turn: Turn, event: Event, edit: int | None) -> str | None:
    """Past a handoff only the mailbox is kept: "Start again" starts again, "Back" (from
    the emergency screen) shows the mailbox, older script buttons no longer act."""
    if event.op == EventOp.RESTART:
        await show_step(turn, turn.engine.start(), edit)
        return None
    if event.op == EventOp.BACK:
        await show_current(turn, edit)
        return None
    return texts.STALE_BUTTON


async def skipped(turn: Turn) -> frozenset[str]:
    """Associations not to offer this person again: those that declined or passed on an
    earlier request of this conversation. The state keeps them until it expires; the
    database never links the next ticket to that one."""
    skip = set(turn.memory.skip)
    if turn.memory.ticket is not None:
        async with turn.runtime.db() as session:
            ticket = await find_ticket(session, turn.memory.ticket)
        if ticket is not None:
            skip.update(passed_over(ticket))
    return frozenset(skip)


async def hand_off(turn: Turn, before: State, step: Step, edit: int | None) -> None:
    """Consent given: create the ticket and its notice, show the code and the contact card.

    From here the state keeps only what opens the mailbox: no script state, no answers.
    Past HANDOFFS_PER_DAY for this person, nothing is sent: the emergency screen shows over
    the consent screen (`before`), with a kind word, and "back" returns to it.
    """
    runtime = turn.runtime
    departement = _departement(step.state)
    if turn.previewing:  # no ticket, no notice
        turn.memory.state = step.state
        await show(
            turn,
            render_screen(step.screen, turn.tr, turn.engine.version, None).extended("PREVIEW: XXXX-XXXX-XXXX"),
            edit,
        )
        return
    skip = await skipped(turn)
    match = await runtime.directory.find_match(departement, fresh=True, exclude=skip)
    if match is None:
        stats.no_association(runtime.db, departement, turn.tr.locale)
        turn.notices.append(handoff.no_association(departement))
        await show_current(turn, edit)
        return
    if not await runtime.handoff_quota.take(turn.pseudonym):
        stats.later(runtime.db, "limit", limit="handoff")
        runtime.metrics.limit_hit("handoffs_per_day")
        turn.notices.append(texts.HANDOFF_LIMIT)
        await show_step(turn, turn.engine.handle(before, Event(EventOp.EMERGENCY)), edit)
        return
    facts = handoff.NoticeFacts(dict(step.state.answers), turn.tr.locale, departement, turn.engine.version)
    code, ticket = await handoff.create_handoff(runtime.db, runtime.catalogs, turn.engine, facts, match)
    runtime.wake_sender()
    runtime.metrics.handoffs.inc()
    turn.memory.ticket = code
    turn.memory.skip = tuple(sorted(skip))
    turn.memory.state = None
    tr = turn.tr
    rendered = render_screen(step.screen, tr, turn.engine.version, None).extended(
        f"{code_lines(tr, code, ticket)}\n\n{handoff.contact_card(match.candidate, tr)}",
        mailbox_buttons(tr, answer=False),
        first=True,  # the code's buttons before "start again", which would leave it behind
    )
    await show(turn, rendered, edit, protect=True)


def code_lines(tr: Translator, code: str, ticket: Ticket) -> str:
    """The code, which opens the mailbox and is the person's alone, and the reference the
    notice shows too, which opens nothing."""
    ref = escape(tr.gettext(texts.YOUR_REFERENCE).format(reference=reference(ticket)))  # gettext isolates {reference}
    return f"{escape(tr.gettext(texts.YOUR_CODE))} <b>{tr.isolate(code)}</b>\n{ref}"


def mailbox_buttons(tr: Translator, *, answer: bool) -> list[list[InlineKeyboardButton]]:
    rows = [[_mailbox_button(tr, texts.CHECK_REPLIES, MailboxAction.CHECK)]]
    if answer:
        rows.append([_mailbox_button(tr, texts.ANSWER, MailboxAction.ANSWER)])
    rows.append([_mailbox_button(tr, texts.DELETE_TICKET, MailboxAction.DELETE)])
    return rows


def _mailbox_button(tr: Translator, label: str, action: MailboxAction) -> InlineKeyboardButton:
    return button(tr.gettext(label), MailboxButton(action=action).pack())


async def open_mailbox(turn: Turn, code: str, edit: int | None = None, page: int = 0) -> None:
    """Status and replies of a ticket, for whoever holds its code: one page of replies at a
    time, newest first (bot.conversation.mailbox)."""
    async with turn.runtime.db() as session:
        ticket = await find_ticket(session, code)
    tr = turn.tr
    if ticket is None:
        if turn.memory.ticket == code:
            turn.memory.ticket = None
        turn.notices.append(texts.TICKET_GONE)
        await show_current(turn, edit)
        return
    turn.memory.ticket = code
    _ = tr.gettext
    lines = [
        code_lines(tr, code, ticket),
        escape(_(handoff.STATUS_TEXT.get(ticket.status, texts.STATUS_SENT))),
    ]
    if ticket.messages:
        count = len(ticket.messages)
        lines.append(f"<b>{escape(tr.ngettext(*texts.REPLIES, count).format(n=count))}</b>")
    else:
        lines.append(escape(_(texts.NO_REPLY_YET)))
    if turn.notices:
        lines.insert(0, f"<i>{escape(turn.notice() or '')}</i>")
    shown = mailbox.render_page(tr, lines, [reply.body for reply in ticket.messages], page)
    can_answer = ticket.mailbox and ticket.status in ("sent", "delivered", "passed_on", "rerouted", "accepted")
    rows = [shown.navigation] if shown.navigation else []
    rows += mailbox_buttons(tr, answer=can_answer)
    # Start again (after a decline, the way on): the code stays here until a new request replaces it
    rows.append(
        [button(tr.gettext(turn.engine.script.labels.restart), Event(EventOp.RESTART).encode(turn.engine.version))]
    )
    rows.append(footer(tr, turn.engine.version))
    await show(turn, Rendered.of(shown.text, rows), edit, protect=True)


async def show_mailbox(turn: Turn, edit: int | None = None, page: int = 0) -> None:
    """The mailbox of the ticket this conversation holds, or where the person is."""
    if turn.memory.ticket is None:
        await show_current(turn, edit)
        return
    await open_mailbox(turn, turn.memory.ticket, edit, page)


async def typed_code(turn: Turn, code: str) -> None:
    """A code sent as text, from any device: rate-limited; a wrong one reveals nothing."""
    limiter = turn.runtime.limiter
    if not await limiter.allowed(turn.pseudonym):
        stats.later(turn.runtime.db, "limit", limit="code_guess")
        turn.runtime.metrics.limit_hit("code_guesses")
        turn.notices.append(texts.TOO_MANY_TRIES)
        await show_current(turn)
        return
    async with turn.runtime.db() as session:
        exists = await find_ticket(session, code) is not None
    if not exists:
        await limiter.failed(turn.pseudonym)
    await open_mailbox(turn, code)


async def start_answer(turn: Turn, edit: int | None) -> None:
    if turn.memory.ticket is None:
        await show_current(turn, edit)
        return
    await compose_again(turn, escape(turn.tr.gettext(texts.COMPOSE)), edit)


async def cancel_answer(turn: Turn, edit: int | None) -> None:
    """The answer being written is dropped: back to the mailbox."""
    turn.memory.composing = None
    await show_mailbox(turn, edit)


async def relay(turn: Turn, text: str) -> None:
    """The person's answer goes to the outbox; it is blanked there once delivered."""
    code = turn.memory.ticket
    turn.memory.composing = None
    if code is None:
        await show_current(turn)
        return
    limit = turn.runtime.settings.relay_max_chars
    if not fits(text, limit):  # UTF-16 units, as Telegram counts
        await compose_again(turn, escape(turn.tr.gettext(texts.RELAY_TOO_LONG).format(limit=turn.tr.number(limit))))
        return
    if not await turn.runtime.relay_quota.take(code_hash(code)):  # counted per ticket, by its hash
        stats.later(turn.runtime.db, "limit", limit="relay")
        turn.runtime.metrics.limit_hit("relays_per_hour")
        await compose_again(turn, f"<i>{escape(turn.tr.gettext(texts.RELAY_LIMIT))}</i>\n\n{emergency_text(turn)}")
        return
    async with turn.runtime.db.begin() as session:
        queued = await handoff.queue_relay(session, turn.runtime.catalogs, code, text)
    if queued:
        turn.runtime.wake_sender()
        turn.notices.append(texts.RELAYED)
    await open_mailbox(turn, code)


async def compose_again(turn: Turn, text: str, edit: int | None = None) -> None:
    """The next message typed is an answer to relay: asked for, or after one refused (too
    long, too many), which was not sent and may be sent again."""
    turn.memory.composing = True
    tr = turn.tr
    rows = [
        [_mailbox_button(tr, texts.CANCEL, MailboxAction.CANCEL)],
        footer(tr, turn.engine.version),
    ]
    await show(turn, Rendered.of(text, rows), edit)


def emergency_text(turn: Turn) -> str:
    """The script's emergency numbers, in the person's language: the same as the 🆘 screen."""
    script = turn.engine.script
    text = script.node(script.emergency).text  # a shown node: the loader refuses it without a text
    return escape(turn.tr.gettext(text)) if text else ""


async def delete_my_ticket(turn: Turn, edit: int | None) -> None:
    code = turn.memory.ticket
    if code is not None:
        turn.memory.skip = tuple(sorted(await skipped(turn)))  # a request made after this one skips them still
        async with turn.runtime.db.begin() as session:
            await delete_ticket(session, code)
    turn.memory.ticket = None
    turn.memory.composing = None
    turn.notices.append(texts.TICKET_DELETED)
    await show_current(turn, edit)


async def typed(turn: Turn, text: str) -> None:
    """Typed text: an answer to relay, a ticket code, an answer where the screen asks for
    one, otherwise a kind pointer to the buttons."""
    if turn.memory.composing:
        await relay(turn, text)
        return
    code = normalise_code(text)
    if code is not None:
        await typed_code(turn, code)
        return
    state = turn.current_state()
    if state is None or turn.memory.locale is None:
        await start(turn)
        return
    if len(text) > MAX_PARSED_TEXT:
        turn.notices.append(texts.TOO_LONG)
        await show_current(turn)
        return
    step = turn.engine.handle(state, TextInput(text))
    if step.outcome == "unexpected_text":
        turn.notices.append(texts.USE_BUTTONS)
    await show_step(turn, step)


async def erase(turn: Turn, message_id: int) -> None:
    """Delete what the person sent, once handled: a place, a code, a message, a file or a
    command is then on the bot's side only as long as it takes to read it, and no longer
    on a phone someone else may check. If Telegram is failing, it is retried in the background."""
    try:
        await turn.bot.delete_message(chat_id=turn.chat_id, message_id=message_id)
    except (TelegramRetryAfter, TelegramServerError, TelegramNetworkError) as exc:
        log.warning("could not erase a message now (%s): retrying in the background", type(exc).__name__)
        turn.runtime.erasures.delete_later(turn.bot, turn.chat_id, [message_id])
    except TelegramAPIError:
        pass  # already gone, or not deletable (a service message, the bot blocked)


async def shared_location(turn: Turn, latitude: float, longitude: float) -> None:
    state = turn.current_state()
    if state is None:
        turn.notices.append(texts.LOCATION)
        await show_current(turn)
        return
    step = turn.engine.handle(state, LocationInput(latitude, longitude))
    if step.outcome == "unexpected_location":
        turn.notices.append(texts.LOCATION)
    await show_step(turn, step)


async def unusable(turn: Turn, message: str) -> None:
    """Stickers, photos, contacts, unknown commands...: say so kindly on the current screen.

    What was sent is deleted once handled, so that screen is the last message again: it is
    edited in place, and a second file changes nothing on it (the kind word is said once
    per screen, with no message piling up for each file).
    """
    turn.notices.append(message)
    await show_current(turn, turn.memory.screen_message)


async def quick_exit(turn: Turn, seen: int, pressed: int | None = None) -> None:
    """Forget this conversation at once; its deletion then runs to the end in the background.

    `seen` is the /exit message or the screen whose button was pressed (`pressed`, which
    may be an older one). The state is reset and saved here, before any call to Telegram;
    the middleware then starts the deletion (bot.conversation.erasure): every message of the
    conversation Telegram still lets a bot delete, up to the neutral line; the bot's
    messages too old for that are blanked into the neutral line.
    """
    neutral = escape(turn.runtime.settings.neutral_text or turn.tr.gettext(texts.NEUTRAL))
    turn.leaving = ExitPlan.of(turn.memory, neutral, turn.runtime.clock(), seen=seen, pressed=pressed)
    stats.later(turn.runtime.db, "quick_exit", language=turn.tr.locale)
    turn.memory = Memory()
    await turn.save()
    turn.runtime.metrics.quick_exits.inc()


async def forget(turn: Turn) -> None:
    """Clear the state, and delete the ticket it held. Only the message ids are kept: a
    quick exit afterwards must still reach the screens that showed the code and the answers."""
    if turn.memory.ticket is not None:
        async with turn.runtime.db.begin() as session:
            await delete_ticket(session, turn.memory.ticket)
    tr, old = turn.tr, turn.memory
    turn.memory = Memory(spans=old.spans, old_screens=old.old_screens)
    if old.screen_message is not None:
        turn.memory.remember(old.screen_message)
    await turn.save()  # forgotten before Telegram is asked anything, as with a quick exit
    sent = await turn.bot.send_message(chat_id=turn.chat_id, text=escape(tr.gettext(texts.FORGOTTEN)))
    turn.memory.remember(sent.message_id)
