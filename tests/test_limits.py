"""Code-guessing limits: per person, and for everyone together."""

from __future__ import annotations

from bot.limits import OVERALL, PER_PERSON, PER_PERSON_WINDOW, GuessLimiter


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_per_person_limit_then_recovery() -> None:
    clock = Clock()
    limiter = GuessLimiter(clock)
    for _ in range(PER_PERSON):
        assert limiter.allowed("a")
        limiter.failed("a")
    assert not limiter.allowed("a")
    assert limiter.allowed("b"), "another person is not affected"
    clock.now += PER_PERSON_WINDOW + 1
    assert limiter.allowed("a")


def test_overall_limit_stops_a_distributed_guesser() -> None:
    limiter = GuessLimiter(Clock())
    for n in range(OVERALL):
        assert limiter.allowed(f"p{n}")
        limiter.failed(f"p{n}")
    assert not limiter.allowed("someone-new")
