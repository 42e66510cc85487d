"""Keep aiogram's parsed-response models alive, so they are built once, not every few seconds.

aiogram parses every answer as `Response[ReturnType]`, a pydantic generic. pydantic caches
parametrised generics in a WeakValueDictionary, and nothing else holds them, so the
garbage collector drops them and the next request rebuilds one (about 10 ms of CPU each):
that was most of the tail latency measured by `python -m tests.bench`. Holding a strong
reference to the few types the bot uses on every update removes those rebuilds.
"""

from __future__ import annotations

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

HOT_METHODS: tuple[type[TelegramMethod], ...] = (
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
