"""Code-guessing limits (per person, and for everyone together), and the flood quotas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from bot.state.limits import OVERALL, PER_PERSON, PER_PERSON_WINDOW, GuessLimiter, MemoryQuota, Quota, RedisQuota
from tests.support.backends import SERVERS_MISSING, TEST_REDIS_URL


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_per_person_limit_then_recovery() -> None:
    clock = Clock()
    limiter = GuessLimiter(clock)
    for _ in range(PER_PERSON):
        assert await limiter.allowed("a")
        await limiter.failed("a")
    assert not await limiter.allowed("a")
    assert await limiter.allowed("b"), "another person is not affected"
    clock.now += PER_PERSON_WINDOW + 1
    assert await limiter.allowed("a")


async def test_overall_limit_stops_a_distributed_guesser() -> None:
    limiter = GuessLimiter(Clock())
    for n in range(OVERALL):
        assert await limiter.allowed(f"p{n}")
        await limiter.failed(f"p{n}")
    assert not await limiter.allowed("someone-new")


# ---------------------------------------------------------------------------- flood quotas: one contract, both kinds


@dataclass
class QuotaKind:
    make: Callable[[int, float], Quota]
    wait: Callable[[float], Awaitable[None]]
    redis: Any = None


@pytest.fixture(params=["memory", "redis"])
async def quota_kind(request: pytest.FixtureRequest) -> AsyncIterator[QuotaKind]:
    if request.param == "memory":
        clock = Clock()

        async def advance(seconds: float) -> None:
            clock.now += seconds

        yield QuotaKind(lambda limit, window: MemoryQuota(limit, window, clock), advance)
        return
    if not TEST_REDIS_URL:
        pytest.skip(SERVERS_MISSING)
    from redis.asyncio import Redis

    redis = Redis.from_url(TEST_REDIS_URL)
    await redis.flushdb()
    try:
        yield QuotaKind(lambda limit, window: RedisQuota(redis, "test", limit, window), asyncio.sleep, redis)
    finally:
        await redis.flushdb()
        await redis.aclose()


async def test_a_quota_holds_per_key_then_recovers(quota_kind: QuotaKind) -> None:
    quota = quota_kind.make(3, 1.0)
    assert [await quota.take("pseudonym-a") for _ in range(4)] == [True, True, True, False]
    assert not await quota.take("pseudonym-a"), "a refused use does not reopen it"
    assert await quota.take("pseudonym-b"), "another key is not affected"
    await quota_kind.wait(1.1)
    assert await quota.take("pseudonym-a"), "the window passed"


async def test_quota_keys_expire_and_name_only_the_key(quota_kind: QuotaKind) -> None:
    await quota_kind.make(2, 60.0).take("hmac-of-someone")
    if quota_kind.redis is None:
        pytest.skip("memory: nothing outlives the process")
    keys = [key.decode() for key in await quota_kind.redis.keys("*")]
    assert len(keys) == 1 and keys[0].startswith("limit:test:hmac-of-someone:")
    assert 0 < await quota_kind.redis.ttl(keys[0]) <= 60


async def test_a_memory_quota_forgets_keys_nobody_used_for_a_window() -> None:
    """One key per person or ticket: a long-running process must not keep them all."""
    now = [0.0]
    quota = MemoryQuota(3, 60.0, lambda: now[0])
    for person in range(5000):
        assert await quota.take(f"p{person}")
        now[0] += 1.0  # a steady trickle: at most 60 keys are within the window at any time
    assert len(quota._uses) <= 2 * 1024, len(quota._uses)
    now[0] += 30.0
    assert not [await quota.take("p4999") for _ in range(3)][-1], "a live key keeps its count"
