"""The one middleware that gives private-chat handlers a `Turn` and keeps its session."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.enums import ChatType
from aiogram.fsm.context import FSMContext
from aiogram.types import Chat, TelegramObject, Update, User
from pydantic import ValidationError

from bot.conversation import Runtime, Turn
from bot.pseudonym import PseudonymKeyBuilder
from bot.session import Session


class TurnMiddleware(BaseMiddleware):
    """Loads the session (under the pseudonym aiogram's FSM gives us), saves it if changed.

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
            session = Session.from_data(raw)
        except ValidationError:
            session = Session()  # unreadable state restarts cleanly
        user: User | None = data.get("event_from_user")
        keys = getattr(fsm.storage, "key_builder", None)
        pseudonym = keys.pseudonym(fsm.key) if isinstance(keys, PseudonymKeyBuilder) else ""
        turn = Turn(self.runtime, data["bot"], chat.id, session, user.language_code if user else None, pseudonym)
        if isinstance(event, Update) and event.message is not None:
            turn.session.track(event.message.message_id, int(event.message.date.timestamp()))
        data["turn"] = turn
        try:
            return await handler(event, data)
        finally:
            new = turn.session.to_data()
            if new != raw:
                await fsm.set_data(new)
