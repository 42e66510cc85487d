"""Timings, run apart from the test suite: `python -m benchmarks.bench --help` (README, "Benchmark")."""
