"""What only the memory quota does; the contract every limit keeps, on each backend, is
tests/test_limiter_contract.py."""

from __future__ import annotations

from bot.state.limits import MemoryQuota


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
