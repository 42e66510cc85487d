"""Rate limits on guessing ticket codes: per person (pseudonym) and for everyone together.

Codes have 60 bits, so guessing is hopeless anyway; the limits keep it that way and
keep a flood from costing database lookups. In memory for one process; in Redis, shared
by every instance, when REDIS_URL is set.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

PER_PERSON = 5
PER_PERSON_WINDOW = 3600.0
OVERALL = 60
OVERALL_WINDOW = 60.0


class GuessLimiter:
    """In memory: sliding windows per pseudonym and overall."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._people: dict[str, deque[float]] = {}
        self._everyone: deque[float] = deque()

    async def allowed(self, pseudonym: str) -> bool:
        now = self._clock()
        mine = self._prune(self._people.get(pseudonym), now - PER_PERSON_WINDOW)
        if mine is not None and not mine:
            del self._people[pseudonym]
        self._prune(self._everyone, now - OVERALL_WINDOW)
        return len(mine or ()) < PER_PERSON and len(self._everyone) < OVERALL

    async def failed(self, pseudonym: str) -> None:
        now = self._clock()
        self._people.setdefault(pseudonym, deque()).append(now)
        self._everyone.append(now)

    @staticmethod
    def _prune(times: deque[float] | None, before: float) -> deque[float] | None:
        while times and times[0] <= before:
            times.popleft()
        return times


class RedisGuessLimiter:
    """The same limits in Redis, so several instances count together.

    Fixed windows (a counter per window, expiring with it) rather than sliding ones: a
    little coarser, and two commands per wrong guess. Keys hold the pseudonym, never an id.
    """

    def __init__(self, redis: Any, prefix: str = "limit") -> None:
        self.redis = redis
        self.prefix = prefix

    def _keys(self, pseudonym: str) -> tuple[str, str]:
        now = time.time()
        return (
            f"{self.prefix}:guess:{pseudonym}:{int(now // PER_PERSON_WINDOW)}",
            f"{self.prefix}:guess:all:{int(now // OVERALL_WINDOW)}",
        )

    async def allowed(self, pseudonym: str) -> bool:
        mine, everyone = await self.redis.mget(self._keys(pseudonym))
        return int(mine or 0) < PER_PERSON and int(everyone or 0) < OVERALL

    async def failed(self, pseudonym: str) -> None:
        mine, everyone = self._keys(pseudonym)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.incr(mine).expire(mine, int(PER_PERSON_WINDOW))
            pipe.incr(everyone).expire(everyone, int(OVERALL_WINDOW))
            await pipe.execute()


Limiter = GuessLimiter | RedisGuessLimiter
