"""Deletions that finish whatever Telegram answers: a quick exit, and what the person sent.

A quick exit resets the state at once (bot.conversation.turn.quick_exit) and hands what it
must delete to `Erasures`, which runs it as a task of this process, in memory only: no
chat id is written anywhere for it. A 429 waits for its `retry_after`, a 5xx or a lost
connection backs off, until the messages are past Telegram's 48 hours. At shutdown the
tasks are given a moment, then cancelled: what was left is what a restart cannot reach.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Message

from bot.state.memory import DELETABLE_SECONDS, Memory, first_deletable, reach
from bot.transport.failures import Kind, classify

log = logging.getLogger(__name__)
T = TypeVar("T")
DELETE_BATCH = 100
"""deleteMessages takes at most 100 ids a call."""
SWEEP_BACK = 300
"""How far below the first id it knows a quick exit also sweeps (three deleteMessages calls):
an earlier conversation of the last 48 hours, whose state expired, is reached too."""
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 300.0
SHUTDOWN_GRACE = 3.0
"""Seconds a stopping process gives the deletions under way before cancelling them."""


@dataclass(frozen=True)
class ExitPlan:
    """What a quick exit must reach, copied from the state before it was reset."""

    spans: tuple[tuple[int, int, int], ...]
    screens: tuple[int, ...]
    """Bot messages that may have to be blanked instead of deleted."""
    newest: int
    """The highest message id known; the neutral line's id bounds the deletion better."""
    neutral: str
    at: float
    """When the person asked to leave (the runtime's clock)."""

    @classmethod
    def of(cls, memory: Memory, neutral: str, at: float, *, seen: int, pressed: int | None = None) -> ExitPlan:
        """`seen`: the id this update showed (the /exit message, or the screen whose button was
        pressed, which may be older than others and is `pressed` too)."""
        screens = [*(memory.old_screens or []), *([memory.screen_message] if memory.screen_message else [])]
        if pressed is not None:
            screens.append(pressed)
        spans = tuple((s[0], s[1], s[2]) for s in memory.spans or [])
        return cls(spans, tuple(dict.fromkeys(screens)), max(memory.newest() or 0, seen), neutral, at)

    def to_delete(self, now: int) -> list[int]:
        """Ids worth asking Telegram to delete: from the first span not past 48 hours, or from
        an earlier bot message whose age the spans cannot tell (a screen pressed after the
        state expired: what follows it is of this chat too), to the newest id known."""
        spans = [list(s) for s in self.spans]
        first = first_deletable(spans, now)
        unknown = [s for s in self.screens if reach(spans, s, now) == "unknown" and (first is None or s < first)]
        start = min([*unknown, *([] if first is None else [first])], default=None)
        return list(range(start, self.newest + 1)) if start is not None else []

    def to_sweep(self, now: int) -> list[int]:
        """Ids below what the state knows, down to `SWEEP_BACK` of them: an earlier conversation
        whose state expired (or was never kept) may still be deletable, and a private chat's
        ids are its own. Swept in batches apart from the known ones, so that a batch Telegram
        refuses (all gone, or too old) costs nothing else."""
        known = self.to_delete(now)
        start = known[0] if known else self.newest + 1
        return list(range(max(1, start - SWEEP_BACK), start))


class Erasures:
    """The deletions under way in this process, owned by the app and stopped with it."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._exits: dict[int, asyncio.Task[None]] = {}
        """Chat id -> its quick exit under way (memory only): a second exit sends no second line."""
        self._begun: dict[int, int] = {}
        """Chat id -> the first message of a conversation started while its exit was under way."""

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def quick_exit(self, bot: Bot, chat_id: int, plan: ExitPlan) -> None:
        joining = chat_id in self._exits
        if joining and not plan.spans:
            return  # a second press: the exit under way covers everything
        task = self._spawn(self._exit(bot, chat_id, plan, neutral=not joining))
        if not joining:
            self._exits[chat_id] = task
            task.add_done_callback(lambda _done: (self._exits.pop(chat_id, None), self._begun.pop(chat_id, None)))

    def began(self, chat_id: int, message_id: int) -> None:
        """The person started again at `message_id` while the exit was still deleting: what
        follows is the new conversation's, and the exit stops below it."""
        if chat_id in self._exits:
            self._begun[chat_id] = min(message_id, self._begun.get(chat_id, message_id))

    def delete_later(self, bot: Bot, chat_id: int, message_ids: list[int]) -> None:
        """Delete these messages once Telegram lets us (after a 429, a 5xx, a lost connection)."""
        until = self.clock() + DELETABLE_SECONDS
        self._spawn(self._delete(bot, chat_id, message_ids, until))

    async def stop(self, grace: float = SHUTDOWN_GRACE) -> None:
        """Give the deletions under way `grace` seconds, then cancel the rest."""
        tasks = set(self._tasks)
        if not tasks:
            return
        _done, left = await asyncio.wait(tasks, timeout=grace)
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)
        if left:
            log.warning("stopped with %d deletion(s) unfinished", len(left))

    def _spawn(self, work: Awaitable[None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(self._guarded(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @staticmethod
    async def _guarded(work: Awaitable[None]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001  (a background deletion must never crash loudly with ids)
            log.error("a deletion failed: %s", type(exc).__name__)

    async def _exit(self, bot: Bot, chat_id: int, plan: ExitPlan, *, neutral: bool) -> None:
        """Blank the bot messages too old to delete, send the neutral line, delete the rest.

        The neutral line's id bounds the deletion: everything before it in this chat, from
        the conversation's first deletable message, goes, even messages whose sending we
        never heard back about.
        """
        until = plan.at + DELETABLE_SECONDS
        now = int(self.clock())
        spans = [list(s) for s in plan.spans]
        blanked = False
        for screen in plan.screens:
            where = reach(spans, screen, now)
            if where == "deletable":
                continue
            edited = await self._persist(
                functools.partial(bot.edit_message_text, chat_id=chat_id, message_id=screen, text=plan.neutral), until
            )
            blanked |= edited is not None and where == "too_old"
        known = self._delete(bot, chat_id, plan.to_delete(now), until)
        if not neutral or blanked:
            await known
            if neutral:  # joining an exit under way, the sweep would take its neutral line
                await self._delete(bot, chat_id, plan.to_sweep(now), until)
            return
        line, deleted = await asyncio.gather(
            self._persist(lambda: bot.send_message(chat_id=chat_id, text=plan.neutral), until),
            known,
            return_exceptions=True,  # the one failing must not leave the other running unowned
        )
        for outcome in (line, deleted):
            if isinstance(outcome, BaseException):
                raise outcome
        if isinstance(line, Message):  # what was sent after the newest id known, and never heard back about
            end = min(line.message_id, self._begun.get(chat_id, line.message_id))
            await self._delete(bot, chat_id, list(range(plan.newest + 1, end)), until)
        await self._delete(bot, chat_id, plan.to_sweep(now), until)

    async def _delete(self, bot: Bot, chat_id: int, ids: list[int], until: float) -> None:
        """deleteMessages skips what is gone or too old: a batch either goes or is refused whole."""
        for first in range(0, len(ids), DELETE_BATCH):
            batch = ids[first : first + DELETE_BATCH]
            await self._persist(functools.partial(bot.delete_messages, chat_id=chat_id, message_ids=batch), until)

    async def _persist(self, call: Callable[[], Awaitable[T]], until: float) -> T | None:
        """`call()` until Telegram accepts it; None once it refuses it for good, or `until` passes."""
        backoff = FIRST_BACKOFF
        while True:
            try:
                return await call()
            except TelegramAPIError as exc:
                failure = classify(exc)
                if failure.kind is Kind.RATE_LIMITED:
                    wait = failure.retry_after
                elif failure.kind is Kind.TRANSIENT:
                    wait, backoff = backoff, min(backoff * 2, MAX_BACKOFF)
                else:  # 400 (gone, too old, not modified), 403 (blocked): final
                    log.debug("a deletion step was refused: %s", failure.kind)
                    return None
            if self.clock() + wait > until:
                log.warning("gave up a deletion: Telegram still refused it 48 hours on")
                return None
            await asyncio.sleep(wait)
