"""Magic filters resolved on the event loop, not in a worker thread.

aiogram runs every filter that is not a coroutine function in a thread
(`CallableObject.call` → `asyncio.to_thread`), magic filters (`F.data == …`) included:
one thread hop for each filter tried on each update, for comparisons that take far less than
the hop (see docs/performance.md#filters). Wrapping a magic filter
in an awaitable `Filter` makes aiogram await it inline instead.
"""

from __future__ import annotations

from typing import Any

from aiogram.filters import Filter
from aiogram.types import TelegramObject
from magic_filter import MagicFilter


class OnLoop(Filter):
    """`OnLoop(F.data == "x")`: the same filter, resolved without a thread."""

    __slots__ = ("magic",)

    def __init__(self, magic: MagicFilter) -> None:
        self.magic = magic

    async def __call__(self, event: TelegramObject) -> Any:
        return self.magic.resolve(event)

    def __str__(self) -> str:
        return f"OnLoop({self.magic!r})"
