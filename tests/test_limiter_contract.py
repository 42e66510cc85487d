"""One contract for every rate limit, run over each backend: memory and Redis.

In the style of aiogram's storage tests: the same assertions for every implementation of
`bot.state.limits.Limiter` (wrong code guesses) and `bot.state.limits.Quota` (floods), so
a backend cannot drift from the others. Redis runs when TEST_REDIS_URL is set (its db is
flushed before and after); skipped, and said so, otherwise.

The clock is the test's: the memory kinds count sliding windows on a monotonic clock, the
Redis kinds number fixed windows by wall-clock time, and both are moved past the window.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from bot.state.limits import (
    OVERALL,
    OVERALL_WINDOW,
    PER_PERSON,
    PER_PERSON_WINDOW,
    GuessLimiter,
    Limiter,
    MemoryQuota,
    Quota,
    RedisGuessLimiter,
    RedisQuota,
)
from tests.support.backends import TEST_REDIS_URL

REDIS_URL = TEST_REDIS_URL
REDIS_MISSING = "TEST_REDIS_URL is not set: the Redis tests were skipped"


class Clock:
    """Seconds, moved by the test; starts mid-window, as a real clock does."""

    def __init__(self) -> None:
        self.now = 1_000_000.5

    def __call__(self) -> float:
        return self.now


@dataclass
class Backend:
    name: str
    clock: Clock
    redis: Any = None
    """The Redis client, to look at what the backend keeps; None in memory."""

    def limiter(self) -> Limiter:
        return GuessLimiter(self.clock) if self.redis is None else RedisGuessLimiter(self.redis, clock=self.clock)

    def quota(self, limit: int, window: float, name: str = "test") -> Quota:
        if self.redis is None:
            return MemoryQuota(limit, window, self.clock)
        return RedisQuota(self.redis, name, limit, window, clock=self.clock)


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    if request.param == "memory":
        yield Backend("memory", Clock())
        return
    if not REDIS_URL:
        pytest.skip(REDIS_MISSING)
    from redis.asyncio import Redis

    redis = Redis.from_url(REDIS_URL)
    await redis.flushdb()
    try:
        yield Backend("redis", Clock(), redis)
    finally:
        await redis.flushdb()
        await redis.aclose()


async def fail(limiter: Limiter, pseudonym: str, times: int) -> None:
    for _ in range(times):
        await limiter.failed(pseudonym)


# -- Limiter: wrong code guesses -----------------------------------------------------


async def test_a_person_is_allowed_up_to_the_limit_then_refused(backend: Backend) -> None:
    limiter = backend.limiter()
    for _ in range(PER_PERSON):
        assert await limiter.allowed("person-a")
        await limiter.failed("person-a")
    assert not await limiter.allowed("person-a")
    assert not await limiter.allowed("person-a"), "asking does not count, nor reopen"


async def test_asking_counts_nothing(backend: Backend) -> None:
    limiter = backend.limiter()
    assert all([await limiter.allowed("person-a") for _ in range(PER_PERSON * 3)])


async def test_people_are_counted_apart(backend: Backend) -> None:
    limiter = backend.limiter()
    await fail(limiter, "person-a", PER_PERSON)
    assert await limiter.allowed("person-b"), "another person is not affected"
    await fail(limiter, "person-b", PER_PERSON - 1)
    assert await limiter.allowed("person-b")


async def test_a_person_is_allowed_again_once_the_window_passed(backend: Backend) -> None:
    limiter = backend.limiter()
    await fail(limiter, "person-a", PER_PERSON)
    assert not await limiter.allowed("person-a")
    backend.clock.now += PER_PERSON_WINDOW + 1
    assert await limiter.allowed("person-a")


async def test_the_overall_limit_stops_a_distributed_guesser(backend: Backend) -> None:
    limiter = backend.limiter()
    for n in range(OVERALL):
        assert await limiter.allowed(f"p{n}")
        await limiter.failed(f"p{n}")
    assert not await limiter.allowed("someone-new")
    backend.clock.now += OVERALL_WINDOW + 1
    assert await limiter.allowed("someone-new"), "the overall window passed"


async def test_guess_keys_name_the_pseudonym_only_and_expire(backend: Backend) -> None:
    await backend.limiter().failed("hmac-of-someone")
    if backend.redis is None:
        pytest.skip("memory: nothing outlives the process")
    keys = sorted(key.decode() for key in await backend.redis.keys("*"))
    assert [key.rsplit(":", 1)[0] for key in keys] == ["limit:guess:all", "limit:guess:hmac-of-someone"]
    ttls = {key: await backend.redis.ttl(key) for key in keys}
    assert 0 < ttls[keys[0]] <= OVERALL_WINDOW and 0 < ttls[keys[1]] <= PER_PERSON_WINDOW, ttls


# -- Quota: floods (handoffs per person, relays per ticket) ----------------------------


async def test_a_quota_allows_up_to_its_limit_then_refuses(backend: Backend) -> None:
    quota = backend.quota(3, 60.0)
    assert quota.limit == 3
    assert [await quota.take("pseudonym-a") for _ in range(4)] == [True, True, True, False]
    assert not await quota.take("pseudonym-a"), "a refused use does not reopen it"


async def test_a_quota_counts_keys_apart(backend: Backend) -> None:
    quota = backend.quota(2, 60.0)
    assert [await quota.take("pseudonym-a") for _ in range(3)] == [True, True, False]
    assert [await quota.take("pseudonym-b") for _ in range(3)] == [True, True, False]


async def test_a_quota_opens_again_once_the_window_passed(backend: Backend) -> None:
    quota = backend.quota(3, 60.0)
    assert [await quota.take("pseudonym-a") for _ in range(4)] == [True, True, True, False]
    backend.clock.now += 61.0
    assert await quota.take("pseudonym-a"), "the window passed"


async def test_quotas_with_another_name_or_limit_count_apart(backend: Backend) -> None:
    """Handoffs and relays each have their own quota; filling one leaves the other open."""
    tight, loose = backend.quota(1, 60.0, "handoff"), backend.quota(5, 60.0, "relay")
    assert await tight.take("key") and not await tight.take("key")
    assert await loose.take("key")


async def test_quota_keys_name_only_the_key_and_expire(backend: Backend) -> None:
    await backend.quota(2, 60.0).take("hmac-of-someone")
    if backend.redis is None:
        pytest.skip("memory: nothing outlives the process")
    keys = [key.decode() for key in await backend.redis.keys("*")]
    assert len(keys) == 1 and keys[0].startswith("limit:test:hmac-of-someone:")
    assert 0 < await backend.redis.ttl(keys[0]) <= 60
