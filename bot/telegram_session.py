"""aiogram's HTTP session, tuned for the two costs that dominate this bot's updates.

1. Keep aiogram's parsed-response models alive, so they are built once, not every few seconds.

aiogram parses every answer as `Response[ReturnType]`, a pydantic generic. pydantic caches
parametrised generics in a WeakValueDictionary, and nothing else holds them, so the
garbage collector drops them and the next request rebuilds one (about 10 ms of CPU each):
that was most of the tail latency measured by `python -m tests.bench`. Holding a strong
reference to the few types the bot uses on every update removes those rebuilds.

2. Do not rebuild a Message from Telegram's echo of an edit. An edited screen comes back
whole, keyboard included, and parsing it costs more than the edit itself; the bot never
reads it. Errors are still parsed and raised exactly as aiogram does.

3. Serialise each screen's keyboard once. aiogram dumps a keyboard to a dict and walks it
value by value on every request (about 0.3 ms for one of our screens, the largest single
cost of a button press). A `PreparedKeyboard` keeps the JSON it was first sent as, and
every later request sends that same text. Screens are shared between people and hold
nothing about anyone, so neither does the cached JSON.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteMessages,
    EditMessageReplyMarkup,
    EditMessageText,
    GetUpdates,
    SendMessage,
    TelegramMethod,
)
from aiogram.methods.base import Response
from aiogram.types import InlineKeyboardMarkup
from aiohttp import FormData
from pydantic import PrivateAttr

HOT_METHODS: tuple[type[TelegramMethod[Any]], ...] = (
    GetUpdates,
    SendMessage,
    EditMessageText,
    EditMessageReplyMarkup,
    AnswerCallbackQuery,
    DeleteMessages,
)
_PINNED: list[type] = []


def pin_response_models() -> None:
    """Build and keep the response models of the methods called on every update."""
    if not _PINNED:
        _PINNED.extend(Response[method.__returning__] for method in HOT_METHODS)  # type: ignore[name-defined]


UNREAD_RESULTS: tuple[type[TelegramMethod], ...] = (EditMessageText, EditMessageReplyMarkup, AnswerCallbackQuery)
"""Methods whose successful result the bot never reads (an answer's result is always True)."""


class PreparedKeyboard(InlineKeyboardMarkup):
    """An inline keyboard sent as the JSON it was serialised to the first time. Never mutate."""

    _wire: str | None = PrivateAttr(default=None)


class LeanAiohttpSession(AiohttpSession):
    def build_form_data(self, bot: Bot, method: TelegramMethod[Any]) -> FormData:
        markup = getattr(method, "reply_markup", None)
        if not isinstance(markup, PreparedKeyboard):
            return super().build_form_data(bot, method)
        form = FormData(quote_fields=False)
        files: dict[str, Any] = {}
        for key, value in method.model_dump(warnings=False, exclude={"reply_markup"}).items():
            prepared = self.prepare_value(value, bot=bot, files=files)
            if prepared:
                form.add_field(key, prepared)
        if files:  # none of the methods that take an inline keyboard and a file is used here
            return super().build_form_data(bot, method)
        wire = markup._wire
        if wire is None:
            wire = markup._wire = self.prepare_value(markup, bot=bot, files=files)
        form.add_field("reply_markup", wire)
        return form

    def check_response(self, bot: Bot, method: TelegramMethod[Any], status_code: int, content: str) -> Response[Any]:
        if isinstance(method, UNREAD_RESULTS) and status_code == HTTPStatus.OK:
            try:
                ok = self.json_loads(content).get("ok") is True
            except Exception:  # noqa: BLE001  (let aiogram report what it cannot decode)
                ok = False
            if ok:
                return Response[bool](ok=True, result=True)
        return super().check_response(bot, method, status_code, content)
