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


class Limiter(Protocol):
    """Wrong code guesses: at most PER_PERSON per person in PER_PERSON_WINDOW seconds, and
    at most OVERALL for everyone together in OVERALL_WINDOW seconds.

    Only failures count: a right code adds nothing. Once a window has passed since the last
    failure it counted, a refused person is allowed again.
    The contract every implementation keeps is tests/test_limiter_contract.py.
    """

    async def allowed(self, pseudonym: str) -> bool:
        """Whether one more guess may be checked now; counts nothing.

        :param pseudonym: the person's HMAC pseudonym (never a Telegram id)
        :return: False while this person, or everyone together, has used up the window
        """
        ...

    async def failed(self, pseudonym: str) -> None:
        """Count one wrong guess, for this person and for everyone.

        :param pseudonym: the person's HMAC pseudonym (never a Telegram id)
        """
        ...


class GuessLimiter:
    """A `Limiter` in memory, for one process: sliding windows per pseudonym and overall."""

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
    """A `Limiter` in Redis, so several instances count together.

    Fixed windows (a counter per window, expiring with it) rather than sliding ones: a
    little coarser, and two commands per wrong guess. Keys hold the pseudonym, never an id.
    """

    def __init__(self, redis: Any, prefix: str = "limit", clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.prefix = prefix
        self._clock = clock
        """Wall-clock seconds: every instance must number the windows alike."""

    def _keys(self, pseudonym: str) -> tuple[str, str]:
        now = self._clock()
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


class Quota(Protocol):
    """At most `limit` uses per key in a window: handoffs per person, relays per ticket.

    Keys are HMAC pseudonyms or code hashes, never an id or a code, and expire with
    their window: nothing of a flood is kept in the database. Once a window has passed
    since the last use it counted, a key is allowed again. The contract every
    implementation keeps is tests/test_limiter_contract.py.
    """

    limit: int
    """Uses allowed per key in one window."""

    async def take(self, key: str) -> bool:
        """Count one use, unless the limit is reached.

        :param key: what is limited: an HMAC pseudonym or a code hash (never an id or a code)
        :return: True when the use is allowed; False, and the use not to be made, once the
            key has reached `limit` in the window
        """
        ...


SWEEP_FLOOR = 1024
"""A memory quota drops its stale keys when it holds this many (then twice what is left)."""


class MemoryQuota:
    """A `Quota` in memory, for one process: a sliding window per key."""

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
    """A `Quota` in Redis, shared by every instance: one counter per fixed window, which
    expires with it (as RedisGuessLimiter). One INCR per use; a refused use still counts,
    which only keeps the counter over the limit until its window ends."""

    def __init__(
        self,
        redis: Any,
        name: str,
        limit: int,
        window: float,
        prefix: str = "limit",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.limit = limit
        self.window = window
        self._prefix = f"{prefix}:{name}"
        self._clock = clock
        """Wall-clock seconds: every instance must number the windows alike."""

    async def take(self, key: str) -> bool:
        counter = f"{self._prefix}:{key}:{int(self._clock() // self.window)}"
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.incr(counter).expire(counter, int(self.window))
            count, _ = await pipe.execute()
        return int(count) <= self.limit
