"""aiogram's Redis storage, without the state key Passerelle never uses."""

from __future__ import annotations

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import StateType, StorageKey
from aiogram.fsm.storage.redis import RedisStorage


class SessionRedisStorage(RedisStorage):
    """The step lives in the session data (bot/state/memory.py), never in aiogram's state,
    yet aiogram reads the state at every update: one Redis round trip in five for a button
    press (issue 16, docs/performance.md). It is always None, so it is not read."""

    async def get_state(self, key: StorageKey) -> str | None:
        return None

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        if (state.state if isinstance(state, State) else state) is not None:
            raise NotImplementedError("Passerelle keeps the step in the session data, not in aiogram's state")
