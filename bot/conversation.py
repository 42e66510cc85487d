"""One person's turn: read the session, ask the engine, show the screen, keep the session.

Handlers call these functions and nothing else, so every route through the bot shows
screens the same way: edited in place when a button was pressed on the current screen,
sent anew otherwise, never edited to identical content.
"""

from __future__ import annotations

import time
from html import escape
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest

from bot import texts
from bot.config import Settings
from bot.render import Rendered, render_picker, render_screen
from bot.session import Session
from dialogs.engine import Engine, State, Step
from dialogs.events import Event, LocationInput, TextInput
from dialogs.i18n import Catalogs, Translator
from dialogs.languages import match_locale
from dialogs.loader import LoadedScript

DELETE_BATCH = 100
"""deleteMessages takes at most 100 ids a call."""
MAX_PARSED_TEXT = 200
"""Longer text is never handed to a parser: no postcode or town is that long."""


@dataclass
class Runtime:
    """What every turn needs, built once at start-up."""

    settings: Settings
    catalogs: Catalogs
    script: LoadedScript
    clock: Callable[[], float] = time.time

    @cached_property
    def engine(self) -> Engine:
        return self.script.engine()

    @cached_property
    def picker_prompts(self) -> tuple[str, ...]:
        return tuple(self.catalogs.get(loc).gettext(texts.CHOOSE_LANGUAGE) for loc in self.catalogs.locales)


@dataclass
class Turn:
    """One update from one person, in a private chat."""

    runtime: Runtime
    bot: Bot
    chat_id: int
    session: Session
    language_code: str | None = None
    notices: list[str] = field(default_factory=list)

    @property
    def tr(self) -> Translator:
        locale = self.session.locale or match_locale(self.language_code, self.runtime.catalogs.locales)
        return self.runtime.catalogs.get(locale or self.runtime.settings.default_locale)

    @property
    def engine(self) -> Engine:
        return self.runtime.engine

    def notice(self) -> str | None:
        return "\n".join(self.notices) if self.notices else None

    def current_state(self) -> State | None:
        """The state, or None when it belongs to a script version no longer served."""
        state = self.session.state
        if state is not None and state.version != self.engine.version:
            self.session.state = None
            self.notices.append(texts.UPDATED)
            return None
        return state


# -- showing things -----------------------------------------------------------


async def show(turn: Turn, rendered: Rendered, edit: int | None = None) -> None:
    """Edit the current screen in place when `edit` is it, otherwise send a new message."""
    session = turn.session
    fingerprint = rendered.fingerprint
    if edit is not None and edit == session.screen_message:
        if session.shown == fingerprint:
            return
        try:
            await turn.bot.edit_message_text(
                chat_id=turn.chat_id, message_id=edit, text=rendered.text, reply_markup=rendered.markup
            )
        except TelegramBadRequest:
            pass  # too old or gone: a new message below does the job
        else:
            session.shown = fingerprint
            return
    sent = await turn.bot.send_message(chat_id=turn.chat_id, text=rendered.text, reply_markup=rendered.markup)
    session.track(sent.message_id, int(sent.date.timestamp()))
    session.screen_message = sent.message_id
    session.shown = fingerprint


async def show_step(turn: Turn, step: Step, edit: int | None = None) -> None:
    turn.session.state = step.state
    if step.notice:
        turn.notices.append(step.notice)
    await show(turn, render_screen(step.screen, turn.tr, turn.engine.version, turn.notice()), edit)


async def show_current(turn: Turn, edit: int | None = None) -> None:
    """Show where the person is, starting the script when there is nothing yet."""
    if turn.session.locale is None:
        await show_picker(turn, edit)
        return
    state = turn.current_state()
    if state is None:
        await show_step(turn, turn.engine.start(), edit)
        return
    await show_step(turn, Step(state, turn.engine.render(state)), edit)


async def show_picker(turn: Turn, edit: int | None = None) -> None:
    runtime = turn.runtime
    rendered = render_picker(runtime.catalogs.locales, runtime.picker_prompts, turn.tr, turn.notice())
    await show(turn, rendered, edit)


async def say(turn: Turn, message: str) -> None:
    """A short line in the person's language, tracked for quick exit."""
    sent = await turn.bot.send_message(chat_id=turn.chat_id, text=escape(turn.tr.gettext(message)))
    turn.session.track(sent.message_id, int(sent.date.timestamp()))


# -- what a person does -------------------------------------------------------


async def start(turn: Turn) -> None:
    """/start: preselect the language from Telegram's code, or ask; then resume or begin."""
    if turn.session.locale is None:
        turn.session.locale = match_locale(turn.language_code, turn.runtime.catalogs.locales)
    await show_current(turn)


async def choose_language(turn: Turn, locale: str, edit: int | None) -> bool:
    if locale not in turn.runtime.catalogs.locales:
        return False
    turn.session.locale = locale
    await show_current(turn, edit)
    return True


async def press(turn: Turn, version: str, event: Event, edit: int | None) -> str | None:
    """A script button. Returns a msgid for the callback answer when the press did nothing."""
    engine = turn.engine
    if event.op == "e":
        state = turn.current_state() or engine.start().state
        if turn.session.locale is None:
            turn.session.locale = turn.runtime.settings.default_locale
        await show_step(turn, engine.handle(state, event), edit)
        return None
    state = turn.current_state()
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
    await show_step(turn, step, edit)
    return None


async def typed(turn: Turn, text: str) -> None:
    """Typed text: an answer where the screen asks for one, otherwise a kind pointer to the buttons."""
    state = turn.current_state()
    if state is None or turn.session.locale is None:
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
    """Stickers, photos, contacts, unknown commands...: say so kindly, then show where we are."""
    turn.notices.append(message)
    await show_current(turn)


async def quick_exit(turn: Turn, last_message: int) -> None:
    """Delete what can be deleted of this conversation, forget it, leave one neutral line."""
    ids = list(turn.session.deletable_range(last_message, int(turn.runtime.clock())))
    for first in range(0, len(ids), DELETE_BATCH):
        try:
            await turn.bot.delete_messages(chat_id=turn.chat_id, message_ids=ids[first : first + DELETE_BATCH])
        except TelegramBadRequest:
            pass  # nothing left to delete in that batch
    neutral = turn.runtime.settings.neutral_text or turn.tr.gettext(texts.NEUTRAL)
    turn.session = Session()
    await turn.bot.send_message(chat_id=turn.chat_id, text=escape(neutral))


async def forget(turn: Turn) -> None:
    tr = turn.tr
    turn.session = Session()
    await turn.bot.send_message(chat_id=turn.chat_id, text=escape(tr.gettext(texts.FORGOTTEN)))
