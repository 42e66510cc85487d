"""Updates: the queue the bot polls with getUpdates, and how tests wait until the bot has handled one."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import inspect
import itertools
from collections import deque
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.support.fake_telegram.errors import (
    GET_UPDATES_CONFLICT,
    SET_WEBHOOK_CONFLICT,
    WEBHOOK_CONFLICT,
    TelegramError,
)
from tests.support.fake_telegram.spec import JSON, ApiSpec

# Telegram does not send these update types unless allowed_updates names them.
OPT_IN_UPDATE_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


class UpdateQueue:
    """Pushing updates, long polling and confirmation: part of ``FakeTelegram``, which sets up the state."""

    spec: ApiSpec
    webhook: JSON
    updates: list[JSON]
    filtered_updates: list[JSON]
    _filtered_ids: set[int]
    _ids: itertools.count[int]
    _queue: deque[JSON]
    _confirmed_below: int
    _dropped: set[int]
    _allowed: frozenset[str]
    _waiters: dict[int, asyncio.Future[None]]
    _waiter_heap: list[int]
    _poll_event: asyncio.Event
    _poll_generation: int
    _activity: asyncio.Event | None
    _stopping: bool
    _last_offset: int | None

    def push(self, payload: JSON) -> JSON:
        """Queue an update (``payload`` without ``update_id``) for getUpdates, or POST it to
        the webhook when one is set; return it.

        Updates of types excluded by the bot's ``allowed_updates`` are not delivered (as
        in Telegram) and count as processed at once; see ``filtered_updates``.
        """
        update = {"update_id": next(self._ids), **payload}
        self.updates.append(update)
        kind = next((k for k in payload if k != "update_id"), "")
        if kind not in self._allowed:
            self.filtered_updates.append(update)
            self._filtered_ids.add(update["update_id"])
        else:
            self._queue.append(update)
            self._wake_pollers()
            if self.webhook.get("url"):
                self._schedule_delivery(update)
        self._notify()
        return update

    async def processed(self, update_id: int, timeout: float = 5) -> None:
        """Wait until the bot has handled ``update_id``: it polled with a higher offset.

        With ``handle_as_tasks=False`` aiogram polls again only after the handler returned,
        so every call the handler made has been answered and recorded by then.
        """
        if update_id in self._dropped:
            raise AssertionError(f"update {update_id} was dropped by deleteWebhook(drop_pending_updates=True)")
        if update_id in self._webhook_given_up:
            raise AssertionError(self._webhook_given_up[update_id])
        if self._is_confirmed(update_id):
            return
        future = self._waiters.get(update_id)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._waiters[update_id] = future
            heapq.heappush(self._waiter_heap, update_id)
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            if self.webhook.get("url"):
                raise AssertionError(
                    f"the bot did not finish update {update_id} within {timeout} s: no 2xx answer "
                    f"to its webhook POST yet ({len(self.webhook_failures)} failed POST(s) so far)"
                ) from None
            raise AssertionError(
                f"the bot did not finish update {update_id} within {timeout} s: no getUpdates "
                f"with offset > {update_id} (last offset seen: {self._last_offset}; "
                f"{len(self._queue)} update(s) pending). Is the dispatcher polling this fake "
                f"with handle_as_tasks=False, or is a handler stuck?"
            ) from None

    def _is_confirmed(self, update_id: int) -> bool:
        return update_id < self._confirmed_below or update_id in self._filtered_ids or update_id in self._webhook_done

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5) -> Any:
        """Wait until ``predicate()`` (sync or async) is truthy; re-checked after every
        request and push. Return its value; AssertionError on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = predicate()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                name = getattr(predicate, "__name__", repr(predicate))
                raise AssertionError(f"condition {name} still false after {timeout} s")
            if self._activity is None:
                self._activity = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._activity.wait(), remaining)

    @property
    def polls(self) -> int:
        """How many getUpdates calls have begun: the bot is polling once this is above 0."""
        return self._poll_generation

    def _notify(self) -> None:
        if self._activity is not None:
            self._activity.set()
            self._activity = None

    def _wake_pollers(self) -> None:
        self._poll_event.set()
        self._poll_event = asyncio.Event()

    def _confirm(self, offset: int | None) -> None:
        """Forget updates below ``offset`` and release ``processed`` waiters."""
        if offset is None:
            return
        self._last_offset = offset
        queue = self._queue
        if offset < 0:
            while len(queue) > -offset:
                self._confirmed_below = queue.popleft()["update_id"] + 1
        else:
            while queue and queue[0]["update_id"] < offset:
                queue.popleft()
            self._confirmed_below = max(self._confirmed_below, offset)
        heap = self._waiter_heap
        while heap and heap[0] < self._confirmed_below:
            future = self._waiters.pop(heapq.heappop(heap), None)
            if future is not None and not future.done():
                future.set_result(None)

    async def _get_updates(self, params: JSON, request: web.Request) -> list[JSON]:
        """Long polling: answer at once if updates are queued, else wait for a push."""
        if self.webhook.get("url"):
            raise TelegramError(409, WEBHOOK_CONFLICT)
        offset = params.get("offset")
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed = frozenset(allowed) if allowed else self.spec.update_types - OPT_IN_UPDATE_TYPES
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake_pollers()  # an older poll now answers 409, as Telegram does
        self._notify()  # `polls` changed
        self._confirm(offset)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._stopping:
                return []
            if generation != self._poll_generation:
                raise TelegramError(409, GET_UPDATES_CONFLICT)
            if self.webhook.get("url"):
                raise TelegramError(409, SET_WEBHOOK_CONFLICT)
            if self._queue:
                return list(itertools.islice(self._queue, limit))
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            try:
                await asyncio.wait_for(self._poll_event.wait(), remaining)
            except TimeoutError:
                return []
