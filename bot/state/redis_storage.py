"""aiogram's Redis storage, without the state key Passerelle never uses."""

from __future__ import annotations

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import StateType, StorageKey
from aiogram.fsm.storage.redis import RedisStorage


class DataOnlyRedisStorage(RedisStorage):
    """The step lives in the person's memory (bot/state/memory.py, kept as aiogram's data),
    never in aiogram's state, yet aiogram reads that state at every update: one Redis round
    trip in five for a button press (docs/performance.md). It is always None: not read."""

    async def get_state(self, key: StorageKey) -> str | None:
        return None

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        if (state.state if isinstance(state, State) else state) is not None:
            raise NotImplementedError("Passerelle keeps the step in its memory data, not in aiogram's state")
