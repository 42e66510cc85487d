"""The middlewares of private chats: a `Turn` with its memory, and button presses answered once."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Chat, TelegramObject, Update, User
from aiogram.utils.callback_answer import CallbackAnswer
from pydantic import ValidationError

from bot import texts
from bot.conversation.turn import Turn, erase
from bot.runtime import Runtime
from bot.state.memory import Memory
from bot.state.pseudonym import PseudonymKeyBuilder

log = logging.getLogger(__name__)


class TurnMiddleware(BaseMiddleware):
    """Loads the memory (under the pseudonym aiogram's FSM gives us), saves it if changed.

    Registered on `dp.update` after aiogram's FSM middleware, so it runs inside the
    per-person lock: two quick taps are applied one after the other.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        chat: Chat | None = data.get("event_chat")
        fsm: FSMContext | None = data.get("state")
        if chat is None or chat.type != ChatType.PRIVATE or fsm is None:
            return await handler(event, data)
        raw = await fsm.get_data()
        try:
            memory = Memory.from_data(raw)
        except ValidationError:
            memory = Memory()  # unreadable state restarts cleanly
        user: User | None = data.get("event_from_user")
        keys = getattr(fsm.storage, "key_builder", None)
        pseudonym = keys.pseudonym(fsm.key) if isinstance(keys, PseudonymKeyBuilder) else ""
        turn = Turn(self.runtime, data["bot"], chat.id, memory, user.language_code if user else None, pseudonym)
        if isinstance(keys, PseudonymKeyBuilder) and not memory.unlock(lambda: keys.seal_key(fsm.key)):
            memory.state = None  # sealed for someone else, or under another secret: start again, kindly
            turn.notices.append(texts.EXPIRED)
        sent = sent_by_the_person(event)
        if isinstance(event, Update) and event.message is not None:
            turn.memory.track(event.message.message_id, int(event.message.date.timestamp()))
        saved = raw

        async def save() -> None:
            nonlocal saved
            new = turn.memory.to_data()
            if new != saved:
                await fsm.set_data(new)
                saved = new

        turn.save = save
        data["turn"] = turn
        try:
            return await handler(event, data)
        finally:
            try:
                await save()
            finally:
                if turn.leaving is not None:  # the state is reset first; then the deletion, which covers this message
                    self.runtime.erasures.quick_exit(turn.bot, turn.chat_id, turn.leaving)
                else:
                    if turn.memory.spans:  # started again while an exit still deletes: it spares this
                        self.runtime.erasures.began(turn.chat_id, turn.memory.spans[0][0])
                    if sent is not None:
                        await erase(turn, sent)


def sent_by_the_person(event: TelegramObject) -> int | None:
    """The id of what the person sent or edited, to delete once handled (bot.conversation.turn.erase).

    Everything: text, commands (the /start payload too), captions, files, stickers, voice,
    contacts, places, polls, edits. A phone someone else checks shows none of it.
    """
    if not isinstance(event, Update):
        return None
    message = event.message or event.edited_message
    return message.message_id if message is not None else None


class PressAnswer(CallbackAnswer):
    """aiogram's `callback_answer` (handlers set `.text`), answered exactly once by `AnswerPresses`."""

    def __init__(self, bot: Any, query: CallbackQuery) -> None:
        super().__init__(answered=False)
        self._bot, self._query = bot, query

    async def send(self) -> None:
        """Answer now, with whatever text is set, unless that was done already."""
        if self.answered or self.disabled:
            return
        self._answered = True  # from here on, setting a text raises, as with aiogram's middleware
        try:
            await self._bot.answer_callback_query(
                callback_query_id=self._query.id,
                text=self.text,
                show_alert=self.show_alert,
                url=self.url,
                cache_time=self.cache_time,
            )
        except TelegramAPIError as exc:  # too late, or Telegram unreachable: the screen matters more
            log.warning("could not answer a button press: %s", type(exc).__name__)


class AnswerPresses(BaseMiddleware):
    """Answers every button press exactly once (Telegram shows a spinner until then).

    Replaces aiogram's CallbackAnswerMiddleware, which answers only after the handler is done,
    one round trip after the new screen, and logs each answer at INFO. Here the answer goes
    out together with the first screen the handler shows (`bot.conversation.turn.show`: both requests
    in flight at once), or, when it shows none (a stale button: the answer carries the text),
    once the handler is done, even if it failed.
    """

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if not isinstance(event, CallbackQuery):
            return await handler(event, data)
        answer = data["callback_answer"] = PressAnswer(data["bot"], event)
        turn: Turn | None = data.get("turn")
        if turn is not None:
            turn.answer_press = answer.send
        try:
            return await handler(event, data)
        finally:
            if turn is not None:
                turn.answer_press = None
            await answer.send()
