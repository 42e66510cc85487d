"""Rate limits on guessing ticket codes: per person (pseudonym) and for everyone together.

Codes have 60 bits, so guessing is hopeless anyway; the limits keep it that way and
keep a flood from costing database lookups. In memory here; shared through Redis when
several instances run.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

PER_PERSON = 5
PER_PERSON_WINDOW = 3600.0
OVERALL = 60
OVERALL_WINDOW = 60.0


class GuessLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._people: dict[str, deque[float]] = {}
        self._everyone: deque[float] = deque()

    def allowed(self, pseudonym: str) -> bool:
        now = self._clock()
        mine = self._prune(self._people.get(pseudonym), now - PER_PERSON_WINDOW)
        if mine is not None and not mine:
            del self._people[pseudonym]
        self._prune(self._everyone, now - OVERALL_WINDOW)
        return len(mine or ()) < PER_PERSON and len(self._everyone) < OVERALL

    def failed(self, pseudonym: str) -> None:
        now = self._clock()
        self._people.setdefault(pseudonym, deque()).append(now)
        self._everyone.append(now)

    @staticmethod
    def _prune(times: deque[float] | None, before: float) -> deque[float] | None:
        while times and times[0] <= before:
            times.popleft()
        return times
