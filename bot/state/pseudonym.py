"""Conversation state keyed by an HMAC pseudonym, never by a Telegram id.

Telegram ids are a small space: a plain hash could be reversed by trying them all, an
HMAC under a secret cannot. Idle state expires, so nothing outlives a conversation.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
import weakref
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Literal

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, KeyBuilder, StateType, StorageKey


class PseudonymKeyBuilder(KeyBuilder):
    """`prefix:<hmac>[:part]`: the same person gets the same key, and nobody can read it back."""

    def __init__(self, secret: bytes, prefix: str = "fsm") -> None:
        self._secret = secret
        self.prefix = prefix
        self._last: tuple[weakref.ref[StorageKey], str] | None = None

    def pseudonym(self, key: StorageKey) -> str:
        # aiogram asks five times per update with the same key object (lock, state, data,
        # save): remember the last answer for as long as that object lives, and no longer,
        # so no Telegram id outlives its update here.
        last = self._last
        if last is not None and last[0]() is key:
            return last[1]
        pseudonym = hmac.new(self._secret, _ids(key), hashlib.sha256).hexdigest()[:32]
        self._last = (weakref.ref(key), pseudonym)
        return pseudonym

    def seal_key(self, key: StorageKey) -> bytes:
        """The key that seals what opens this person's mailbox (bot.state.sealing).

        Another HMAC of the same ids, under its own label: neither the pseudonym (which
        names the state) nor the secret alone gives it; both the secret and the ids do.
        """
        return hmac.digest(self._secret, b"seal\0" + _ids(key), hashlib.sha256)

    def build(self, key: StorageKey, part: Literal["data", "state", "lock"] | None = None) -> str:
        name = f"{self.prefix}:{self.pseudonym(key)}"
        return f"{name}:{part}" if part else name


def _ids(key: StorageKey) -> bytes:
    return f"{key.bot_id}:{key.chat_id}:{key.user_id}:{key.thread_id or ''}:{key.destiny}".encode()


class _Record:
    __slots__ = ("data", "expires", "state")

    def __init__(self) -> None:
        self.state: str | None = None
        self.data: dict[str, Any] = {}
        self.expires = 0.0


class PseudonymousMemoryStorage(BaseStorage):
    """aiogram FSM storage in memory, keyed by pseudonym, with an idle TTL.

    Records sit in touch order, so expired ones are evicted from the front in O(1)
    each, on every write: memory stays bounded by the people active within the TTL.
    """

    def __init__(
        self, key_builder: PseudonymKeyBuilder, ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.key_builder = key_builder
        self.ttl = ttl
        self._clock = clock
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def _read(self, key: StorageKey) -> _Record | None:
        name = self.key_builder.build(key)
        record = self._records.get(name)
        if record is not None and record.expires <= self._clock():
            del self._records[name]
            return None
        return record

    def _write(self, key: StorageKey) -> _Record:
        now = self._clock()
        self._evict(now)
        name = self.key_builder.build(key)
        record = self._records.get(name)
        if record is None:
            record = self._records[name] = _Record()
        else:
            self._records.move_to_end(name)
        record.expires = now + self.ttl
        return record

    def _evict(self, now: float) -> None:
        while self._records:
            name, oldest = next(iter(self._records.items()))
            if oldest.expires > now:
                return
            del self._records[name]

    def _forget_if_empty(self, key: StorageKey, record: _Record) -> None:
        if record.state is None and not record.data:
            self._records.pop(self.key_builder.build(key), None)

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        record = self._write(key)
        record.state = state.state if isinstance(state, State) else state
        self._forget_if_empty(key, record)

    async def get_state(self, key: StorageKey) -> str | None:
        record = self._read(key)
        return record.state if record else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        record = self._write(key)
        record.data = dict(data)
        self._forget_if_empty(key, record)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        record = self._read(key)
        return dict(record.data) if record else {}

    async def close(self) -> None:
        self._records.clear()

    def dump(self) -> dict[str, dict[str, Any]]:
        """Everything held, as it would be written out: for the identity tests and benchmarks."""
        return {name: {"state": r.state, "data": r.data} for name, r in self._records.items()}

    def count(self) -> int:
        """Conversations held. (Not `__len__`: aiogram tests `storage or MemoryStorage()`.)"""
        return len(self._records)


class PseudonymEventIsolation(BaseEventIsolation):
    """One update at a time per person, so two quick taps cannot race on their state.

    Unlike aiogram's SimpleEventIsolation, locks are keyed by pseudonym and dropped as
    soon as nobody waits on them, so the table never grows.
    """

    def __init__(self, key_builder: PseudonymKeyBuilder) -> None:
        self.key_builder = key_builder
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncGenerator[None, None]:
        name = self.key_builder.build(key, "lock")
        lock, users = self._locks.get(name, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[name] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            held = self._locks.get(name)  # None once close() has emptied the table
            if held is not None:
                if held[1] <= 1:
                    del self._locks[name]
                else:
                    self._locks[name] = (held[0], held[1] - 1)

    async def close(self) -> None:
        self._locks.clear()
