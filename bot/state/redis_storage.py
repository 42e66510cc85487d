"""aiogram's Redis storage and per-person lock, in as few round trips as an update allows.

A button press reads the person's memory once, under their lock, and writes it once. aiogram
spends five Redis round trips on that: take the lock, read its state key (which Passerelle
never uses), read the data, write it, release the lock. Here it is three: the lock is taken
in the same round trip as the data is read, the state key is never read, then the write and
the release (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Mapping
from contextlib import asynccontextmanager
from typing import Any, cast

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseEventIsolation, StateType, StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from redis.asyncio.lock import Lock
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

LOCK_SECONDS = 60
"""How long a lock outlives an instance that died holding it (aiogram's default)."""
HELD_AT_MOST_SECONDS = 600
"""How long a running update keeps renewing its lock (`Renewal`)."""


class DataOnlyRedisStorage(RedisStorage):
    """The step lives in the person's memory (bot/state/memory.py, kept as aiogram's data),
    never in aiogram's state, yet aiogram reads that state at every update. It is always
    None: not read. And the data read with the lock (`ReadAheadIsolation`) is not read again."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_ahead: dict[str, bytes | None] = {}
        """Data read while taking a lock, by data key, for as long as the lock is held."""

    def create_isolation(self, **_kwargs: Any) -> ReadAheadIsolation:  # type: ignore[override]  # a subclass of aiogram's BaseEventIsolation, not of its RedisEventIsolation
        return ReadAheadIsolation(self)

    async def get_state(self, key: StorageKey) -> str | None:
        return None

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        if (state.state if isinstance(state, State) else state) is not None:
            raise NotImplementedError("Passerelle keeps the step in its memory data, not in aiogram's state")

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        name = self.key_builder.build(key, "data")
        if name not in self.read_ahead:
            return await super().get_data(key)
        value = self.read_ahead.pop(name)  # read once: after this, the data may change
        if value is None:
            return {}
        return cast("dict[str, Any]", self.json_loads(value.decode() if isinstance(value, bytes) else value))

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        self.read_ahead.pop(self.key_builder.build(key, "data"), None)
        await super().set_data(key, data)


class ReadAheadLock(Lock):
    """redis-py's lock, whose every attempt also reads the person's data, in one round trip.

    The data read is kept only when the attempt took the lock: from then on nobody else
    writes it until the release. The lock's own value is read back too, so that an attempt
    that Redis applied but whose answer was lost (the client then retries it) is seen to
    hold the lock, rather than waiting for itself for a minute."""

    def __init__(self, storage: DataOnlyRedisStorage, key: StorageKey) -> None:
        super().__init__(storage.redis, storage.key_builder.build(key, "lock"), timeout=LOCK_SECONDS)
        self.data_key = storage.key_builder.build(key, "data")
        self.data: bytes | None = None

    async def do_acquire(self, token: str | bytes) -> bool:
        token = token.encode() if isinstance(token, str) else token
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(self.name, token, nx=True, px=LOCK_SECONDS * 1000)
            pipe.get(self.name)
            pipe.get(self.data_key)
            _taken, holder, data = await pipe.execute()
        if holder != token:
            return False
        self.data = data
        return True


class ReadAheadIsolation(BaseEventIsolation):
    """One update at a time per person, across instances: aiogram's Redis lock, taken in the
    same round trip as the person's data is read (`DataOnlyRedisStorage.get_data` serves it).

    The lock is renewed while its update runs (`Renewal`), so that only a dead instance's
    lock expires; and a lock already gone at the release (a Redis restart, or a release whose
    answer was lost and that the client retried) is logged, never raised: the update's work
    is done by then, and a failed update would be delivered again by Telegram."""

    def __init__(self, storage: DataOnlyRedisStorage) -> None:
        self.storage = storage

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncGenerator[None, None]:
        lock = ReadAheadLock(self.storage, key)
        await lock.acquire()  # blocking, without a time limit: True once taken
        self.storage.read_ahead[lock.data_key] = lock.data
        renewal = Renewal(lock)
        try:
            yield
        finally:
            renewal.stop()
            self.storage.read_ahead.pop(lock.data_key, None)
            try:
                await lock.release()
            except RedisError as exc:
                log.warning("a person's lock was gone at release (%s); their update was handled", type(exc).__name__)

    async def close(self) -> None:
        pass


class Renewal:
    """Keeps a lock while its update runs, every third of LOCK_SECONDS, for at most
    HELD_AT_MOST_SECONDS: an update stuck longer than that lets the person's next one in.
    A timer, not a task, per update: most updates end long before the first renewal."""

    def __init__(self, lock: ReadAheadLock) -> None:
        self.lock = lock
        self.loop = asyncio.get_running_loop()
        self.until = self.loop.time() + HELD_AT_MOST_SECONDS
        self.timer = self.loop.call_later(LOCK_SECONDS / 3, self._due)
        self.task: asyncio.Task[None] | None = None

    def _due(self) -> None:
        self.task = self.loop.create_task(self._renew())

    async def _renew(self) -> None:
        try:
            await self.lock.reacquire()
        except RedisError as exc:
            log.warning("could not keep a person's lock (%s)", type(exc).__name__)
            return
        if self.loop.time() + LOCK_SECONDS / 3 < self.until:
            self.timer = self.loop.call_later(LOCK_SECONDS / 3, self._due)

    def stop(self) -> None:
        self.timer.cancel()
        if self.task is not None:
            self.task.cancel()
