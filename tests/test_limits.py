"""Code-guessing limits: per person, and for everyone together."""

from __future__ import annotations

from bot.limits import OVERALL, PER_PERSON, PER_PERSON_WINDOW, GuessLimiter


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
