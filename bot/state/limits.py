"""Rate limits: on guessing ticket codes (per person and for everyone together), and
quotas on floods (handoffs per person, relays per ticket).

Codes have 60 bits, so guessing is hopeless anyway; the limits keep it that way and
keep a flood from costing database lookups. In memory for one process; in Redis, shared
by every instance, when REDIS_URL is set.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

PER_PERSON = 5
PER_PERSON_WINDOW = 3600.0
OVERALL = 60
OVERALL_WINDOW = 60.0
HANDOFF_WINDOW = 24 * 3600.0
"""HANDOFFS_PER_DAY counts handoffs over this window."""
RELAY_WINDOW = 3600.0
"""RELAYS_PER_HOUR counts relays over this window."""


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


class Quota(Protocol):
    """At most `limit` uses per key in a window: handoffs per person, relays per ticket.

    Keys are HMAC pseudonyms or code hashes, never an id or a code, and expire with
    their window: nothing of a flood is kept in the database.
    """

    limit: int

    async def take(self, key: str) -> bool:
        """Count one use; False (and the use not made) once the limit is reached."""
        ...


SWEEP_FLOOR = 1024
"""A memory quota drops its stale keys when it holds this many (then twice what is left)."""


class MemoryQuota:
    """In memory: a sliding window per key, for one process."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._uses: dict[str, deque[float]] = {}
        self._sweep_at = SWEEP_FLOOR

    async def take(self, key: str) -> bool:
        now = self._clock()
        if len(self._uses) >= self._sweep_at:  # keys nobody used for a window go, so memory stays flat
            self._uses = {k: u for k, u in self._uses.items() if u and u[-1] > now - self.window}
            self._sweep_at = max(SWEEP_FLOOR, 2 * len(self._uses))
        uses = GuessLimiter._prune(self._uses.setdefault(key, deque()), now - self.window)
        assert uses is not None
        if len(uses) >= self.limit:
            return False
        uses.append(now)
        return True


class RedisQuota:
    """The same in Redis, shared by every instance: one counter per fixed window, which
    expires with it (as RedisGuessLimiter). One INCR per use; a refused use still counts,
    which only keeps the counter over the limit until its window ends."""

    def __init__(self, redis: Any, name: str, limit: int, window: float, prefix: str = "limit") -> None:
        self.redis = redis
        self.limit = limit
        self.window = window
        self._prefix = f"{prefix}:{name}"

    async def take(self, key: str) -> bool:
        counter = f"{self._prefix}:{key}:{int(time.time() // self.window)}"
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.incr(counter).expire(counter, int(self.window))
            count, _ = await pipe.execute()
        return int(count) <= self.limit
