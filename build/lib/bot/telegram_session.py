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


UNREAD_RESULTS: tuple[type[TelegramMethod], ...] = (EditMessageText, EditMessageReplyMarkup)
"""Methods whose successful result the bot never reads."""


class LeanAiohttpSession(AiohttpSession):
    def check_response(self, bot: Bot, method: TelegramMethod[Any], status_code: int, content: str) -> Response[Any]:
        if isinstance(method, UNREAD_RESULTS) and status_code == HTTPStatus.OK:
            try:
                ok = self.json_loads(content).get("ok") is True
            except Exception:  # noqa: BLE001  (let aiogram report what it cannot decode)
                ok = False
            if ok:
                return Response[bool](ok=True, result=True)
        return super().check_response(bot, method, status_code, content)
