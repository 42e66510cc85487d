"""Benchmark of `nearest`: 1,000 fictional candidates, 10,000 lookups, per-lookup time.

    python -m benchmarks.bench_nearest [--candidates 1000] [--lookups 10000] [--seed 1]

The budget is 1 ms per lookup. Candidates are spread over the 101 départements around
their reference points; a tenth are expired, a tenth closed, a fifth not enrolled, so
every branch of the filter runs. Lookups mix the common case (a point and a département)
with the fallback (a département nobody covers, so every candidate is compared) and the
no-point case. No assertions: it prints figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import time

from storage.directory.nearest import Candidate, nearest
from storage.places import places

TODAY = dt.date(2026, 1, 15)


def fictional_candidates(count: int, rng: random.Random) -> list[Candidate]:
    """Made-up associations ("Association Test 0001", ...), each covering 1-3 départements."""
    codes = [d.code for d in places().departements()]
    result = []
    for index in range(count):
        covered = rng.sample(codes, rng.choice((1, 1, 2, 3)))
        lat, lon = places().point(covered[0]) or (46.6, 2.5)
        result.append(
            Candidate(
                slug=f"test-{index:04d}",
                name=f"Association Test {index:04d}",
                city="Testville",
                departements=frozenset(covered),
                latitude=lat + rng.uniform(-0.3, 0.3),
                longitude=lon + rng.uniform(-0.3, 0.3),
                accredited_until=TODAY
                + dt.timedelta(days=rng.choice((-30, 365, 365, 365, 365, 365, 365, 365, 365, 365))),
                intake_open=rng.random() > 0.1,
                enrolled=rng.random() > 0.2,
            )
        )
    return result


def lookups(count: int, rng: random.Random) -> list[tuple[str | None, tuple[float, float] | None]]:
    codes = [d.code for d in places().departements()]
    queries: list[tuple[str | None, tuple[float, float] | None]] = []
    for _ in range(count):
        code = rng.choice(codes)
        point = places().point(code)
        kind = rng.random()
        if kind < 0.1:
            queries.append((code, None))  # a département from the list, no point
        elif kind < 0.2:
            queries.append(("00", point))  # nobody covers it: the fallback compares every candidate
        else:
            queries.append((code, point))
    return queries


def measure(candidates: list[Candidate], queries: list[tuple[str | None, tuple[float, float] | None]]) -> list[float]:
    """Per-lookup times in microseconds."""
    timings = []
    clock = time.perf_counter_ns
    for departement, point in queries:
        start = clock()
        nearest(candidates, departement, point, TODAY)
        timings.append((clock() - start) / 1000)
    return timings


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=1000)
    parser.add_argument("--lookups", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    candidates = fictional_candidates(args.candidates, rng)
    queries = lookups(args.lookups, rng)
    measure(candidates, queries[:200])  # warm up
    timings = measure(candidates, queries)
    fallback = [t for t, (code, point) in zip(timings, queries, strict=True) if code == "00"]
    print(f"nearest: {len(candidates)} candidates, {len(queries)} lookups")
    print(f"  all lookups     median {statistics.median(timings):7.1f} µs   p99 {percentile(timings, 0.99):7.1f} µs")
    print(f"  fallback only   median {statistics.median(fallback):7.1f} µs   p99 {percentile(fallback, 0.99):7.1f} µs")
    print(f"  budget          {1000:7.1f} µs")


if __name__ == "__main__":
    main()
