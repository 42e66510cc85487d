"""Load benchmark, webhook mode: scripted people over one, two and four instances, CPU-capped.

    TEST_DATABASE_URL=postgresql+asyncpg://… TEST_REDIS_URL=redis://… python -m benchmarks.bench_load \
        --cpu-per-instance 0.2

Each instance is a real `passerelle run` process in webhook mode, sharing one PostgreSQL
database and one Redis. This process plays Telegram: the fake Bot API that the instances
call, and the webhook deliveries to them, spread round-robin over the instances as a
reverse proxy without sticky sessions would (the harder case: one person's successive
updates land on different instances, so state and locks must live in Redis). At most
40 deliveries are in flight at once, Telegram's default `max_connections`.

The people walk the script to the consent screen, `/forget`, and again, each stepping as
soon as the previous step was answered (saturation); after a warm-up (`--warmup`, not measured:
each instance's first updates build caches) the round is measured for a fixed time, and
counts the steps answered within it. Rounds of one, two and four instances, and of one
instance polling with its state in memory and SQLite (`1p`, the cheapest set-up, for the per-step
cost), alternate in one run; the figures are medians over rounds, and the ratios are taken
within a round.

`--cpu-per-instance C` puts each instance in its own cgroup capped at C CPUs
(benchmarks/cgroups.py; root only), as `CPUQuota=` would in production. The harness,
PostgreSQL and Redis stay uncapped, so with the caps well under the machine's cores the
instances are the bottleneck, and the table shows it: each instance's CPU use against its cap.
Without root or a writable cgroup it says so and runs uncapped, on the same cores as the
harness (the harness's own CPU time is printed).

Each instance runs under benchmarks/counted_instance.py, which counts the Redis and
PostgreSQL round trips of each update by kind; they are printed per update.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from sqlalchemy.engine import make_url

from benchmarks.bench_driver import cpu_seconds, peak_kib
from benchmarks.cgroups import CpuGroup, cgroups_writable
from benchmarks.counted_instance import OUTSIDE
from benchmarks.profiles import print_summaries
from tests.support.fake_telegram import FakeTelegram, FakeUser
from tests.support.fake_telegram.server import DEFAULT_TOKEN
from tests.support.stack import SECRET
from tests.support.walks import walk_to_consent

ROOT = Path(__file__).resolve().parents[1]
BASE_PORT = 18_300


class ProxiedTelegram(FakeTelegram):
    """Delivers each webhook POST to the next instance in turn."""

    def __init__(self, instances: list[str]) -> None:
        super().__init__(keep_requests=False)
        self.instances = instances
        self._turn = 0

    async def _post_update(self, url: str, update: dict[str, Any]) -> tuple[int | None, str]:
        parts = urlsplit(url)
        target = self.instances[self._turn % len(self.instances)]
        self._turn += 1
        return await super()._post_update(urlunsplit(parts._replace(netloc=target)), update)


WALK_STEPS, WALK_MESSAGES = 13, 3
"""walk_to_consent's steps then /forget; the messages: /start, the postcode, /forget."""

POLLING = "1p"
"""One instance polling, state in memory, SQLite: the floor the webhook cost is compared with."""


@dataclass
class Round:
    instances: int
    polling: bool = False
    steps: int = 0
    """Steps answered within the round."""
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    instance_cpu: float = 0.0
    harness_cpu: float = 0.0
    services_cpu: float = 0.0
    """PostgreSQL's and Redis's processes, on the same machine."""
    peak_rss_mib: float = 0.0
    cap: float | None = None
    """CPUs each instance may use, or None when uncapped."""
    instance_cpus: list[float] = field(default_factory=list)
    """Each instance's CPU use over the round, in CPUs (CPU seconds per second)."""
    throttled: int = 0
    """Scheduler periods in which an instance was throttled, all instances."""
    trips: dict[str, dict[str, int]] = field(default_factory=dict)
    """Round trips counted by benchmarks/counted_instance.py over the round, by update kind."""

    @property
    def label(self) -> str:
        return POLLING if self.polling else str(self.instances)

    @property
    def bot_ms_per_step(self) -> float:
        """The instances' own CPU per step (the bot's cost, not the machine's)."""
        return 1000 * self.instance_cpu / self.steps if self.steps else 0.0

    @property
    def throughput(self) -> float:
        return self.steps / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_step_ms(self) -> float:
        """Everything this machine spent per step: instances, harness, PostgreSQL, Redis."""
        return 1000 * (self.instance_cpu + self.harness_cpu + self.services_cpu) / self.steps if self.steps else 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


class TimedUser(FakeUser):
    """Records the time from each update to the bot's answer to its webhook POST."""

    latencies: list[float]
    round_over: asyncio.Event

    async def _push(self, payload: dict[str, Any]) -> dict[str, Any]:
        if self.round_over.is_set():
            # Not only cancellation: on Python 3.11, wait_for can swallow a cancel that
            # arrives as its future completes, and the walk would go on for ever.
            raise asyncio.CancelledError
        started = time.perf_counter()
        update = await super()._push(payload)
        self.latencies.append(time.perf_counter() - started)
        return update


async def person(user: TimedUser, result: Round, start_after: float) -> None:
    """Walks again and again until cancelled at the end of the round.

    People start at staggered times (`start_after`), so that by the measured window they
    are spread over the walk and the window sees the walk's own mix of steps. Started
    together, a slow configuration would measure only the walk's first, cheaper steps (one
    instance walks 300 people through about eight of its thirteen steps in 20 s) and a fast
    one every step, /start, the postcode, the consent screen and /forget included: the
    per-step cost would then seem to grow with the number of instances."""
    await asyncio.sleep(start_after)
    while True:
        try:
            await walk_to_consent(user, "fr")
            await user.send("/forget")
        except Exception as exc:  # noqa: BLE001  (counted and shown, not hidden)
            result.errors.append(f"{type(exc).__name__}: {str(exc)[:160]}")
            try:
                await user.send("/forget")
            except Exception:  # noqa: BLE001
                await asyncio.sleep(1)


async def fresh_database(admin_url: str) -> tuple[str, str]:
    import asyncpg

    admin = make_url(admin_url)
    name = f"passerelle_load_{uuid.uuid4().hex[:10]}"
    connection = await asyncpg.connect(admin.set(drivername="postgresql").render_as_string(hide_password=False))
    await connection.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    await connection.close()
    return name, admin.set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)


async def drop_database(admin_url: str, name: str) -> None:
    import asyncpg

    admin = make_url(admin_url).set(drivername="postgresql")
    connection = await asyncpg.connect(admin.render_as_string(hide_password=False))
    await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await connection.close()


PROFILE: Path | None = None
"""--profile: each instance is sampled by `py-spy record` over the measured window (py-spy is in
the dev extras), written here."""


def counts_file(folder: Path, port: int) -> Path:
    return folder / f"counts-{port}.json"


def start_instance(
    port: int, api_url: str, database_url: str, redis_url: str | None, folder: Path, group: CpuGroup | None
) -> subprocess.Popen[bytes]:
    """`passerelle run`, in webhook mode when `redis_url` is set, else polling with memory state."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "BOT_TOKEN": DEFAULT_TOKEN,
        "BOT_API_URL": api_url,
        "DATABASE_URL": database_url,
        "PASSERELLE_SECRET": SECRET,
        "LOG_LEVEL": "WARNING",
        "BENCH_COUNTS": str(counts_file(folder, port)),
        "BENCH_POLL_SERIALLY": "1",
    }
    for name in ("REDIS_URL", "WEBHOOK_URL", "WEBHOOK_PORT"):
        env.pop(name, None)
    if redis_url is not None:
        env |= {
            "REDIS_URL": redis_url,
            "WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram/update",
            "WEBHOOK_PORT": str(port),
        }
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "benchmarks.counted_instance", "run", *(["--webhook"] if redis_url else [])]
    with open(folder / f"instance-{port}.log", "wb") as log:  # the child keeps its own copy
        return subprocess.Popen(
            command,
            cwd=folder,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
            preexec_fn=group.join if group is not None else None,  # noqa: PLW1509  (writes two files, takes no lock)
        )


def profile(processes: list[subprocess.Popen[bytes]], label: str, seconds: float) -> None:
    """`py-spy record` each instance over the measured window, from outside its cgroup so that
    sampling does not use its cap; collapsed stacks, one file per instance."""
    assert PROFILE is not None
    PROFILE.mkdir(parents=True, exist_ok=True)
    for n, process in enumerate(processes):
        output = PROFILE / f"{label}-instance{n}-{time.strftime('%H%M%S')}.txt"
        sampler = ["py-spy", "record", "--format", "raw", "--nonblocking", "--duration", str(int(seconds))]
        sampler += ["-o", str(output), "--pid", str(process.pid)]
        subprocess.Popen(sampler, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def phase(what: str) -> None:
    print(f"  {time.strftime('%H:%M:%S')} {what}", file=sys.stderr, flush=True)


async def healthy(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as client:
        while time.monotonic() < deadline:
            try:
                async with client.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"instance on port {port} not healthy after {timeout} s")


SERVICES = ("postgres", "redis-server")


def services_cpu() -> float:
    """CPU seconds used so far by every PostgreSQL and Redis process on this machine."""
    total = 0.0
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() in SERVICES:
                total += cpu_seconds(int(comm.parent.name))
        except OSError:
            continue  # gone meanwhile
    return total


async def read_counts(
    processes: list[subprocess.Popen[bytes]], ports: list[int], folder: Path
) -> dict[str, Counter[str]]:
    """The round trips counted so far, summed over the instances, by update kind."""
    for port in ports:
        counts_file(folder, port).unlink(missing_ok=True)
    for process in processes:
        process.send_signal(signal.SIGUSR1)
    totals: dict[str, Counter[str]] = {}
    for port in ports:
        for _ in range(50):
            if counts_file(folder, port).exists():
                break
            await asyncio.sleep(0.02)
        else:
            continue
        for kind, counts in json.loads(counts_file(folder, port).read_text()).items():
            totals.setdefault(kind, Counter()).update(counts)
    return totals


async def one_round(
    label: str,
    people: int,
    seconds: float,
    admin_url: str,
    redis_url: str,
    folder: Path,
    cap: float | None,
    warmup: float,
) -> Round:
    from redis.asyncio import Redis

    polling = label == POLLING
    count = 1 if polling else int(label)
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    name, database_url = await fresh_database(admin_url)
    if polling:
        (folder / "polling.sqlite3").unlink(missing_ok=True)
        database_url = f"sqlite+aiosqlite:///{folder / 'polling.sqlite3'}"
    ports = [BASE_PORT + n for n in range(count)]
    result = Round(count, polling=polling, cap=cap)
    fake = ProxiedTelegram([f"127.0.0.1:{port}" for port in ports])
    processes: list[subprocess.Popen[bytes]] = []
    groups = [CpuGroup(f"passerelle-bench-{port}", cap) for port in ports] if cap is not None else []
    for group in groups:
        group.create()
    try:
        api_url = await fake.start()
        for n, port in enumerate(ports):  # together, on an empty database, as a deployment starts them
            capped = groups[n] if groups else None
            processes.append(
                start_instance(port, api_url, database_url, None if polling else redis_url, folder, capped)
            )
        if not polling:
            await asyncio.gather(*(healthy(port) for port in ports))
        if polling:
            await fake.wait_for(lambda: fake.polls > 0, timeout=60)
        else:
            await fake.wait_for(lambda: fake.webhook.get("url"), timeout=30)
        phase(f"{label} instance(s) ready")
        users = []
        round_over = asyncio.Event()
        for n in range(people):
            user = TimedUser(fake, 900_000_000 + n, timeout=60)
            user.latencies = result.latencies
            user.round_over = round_over
            users.append(user)
        stagger = random.Random(people)  # the same start times in every round
        walking = [asyncio.create_task(person(user, result, stagger.uniform(0, warmup))) for user in users]
        await asyncio.sleep(warmup)  # each instance's first updates build caches: not the steady cost
        warm = len(result.latencies)
        trips_before = await read_counts(processes, ports, folder)
        cpu_before = [cpu_seconds(p.pid) for p in processes]
        groups_before = [g.usage_seconds() for g in groups]
        throttled_before = sum(g.throttled_periods() for g in groups)
        harness_before = time.process_time()
        services_before = services_cpu()
        if PROFILE is not None:
            profile(processes, label, seconds)
        started = time.perf_counter()
        await asyncio.sleep(seconds)
        result.steps = len(result.latencies) - warm  # steps answered within the measured window
        result.seconds = time.perf_counter() - started
        result.harness_cpu = time.process_time() - harness_before
        result.services_cpu = services_cpu() - services_before
        if groups:
            used = [g.usage_seconds() - before for g, before in zip(groups, groups_before, strict=True)]
            result.throttled = sum(g.throttled_periods() for g in groups) - throttled_before
        else:
            used = [cpu_seconds(p.pid) - before for p, before in zip(processes, cpu_before, strict=True)]
        result.instance_cpu = sum(used)
        result.instance_cpus = [u / result.seconds for u in used]
        trips_after = await read_counts(processes, ports, folder)
        result.trips = {kind: dict(counts - trips_before.get(kind, Counter())) for kind, counts in trips_after.items()}
        phase("round over")
        round_over.set()
        for task in walking:
            task.cancel()
        await asyncio.gather(*walking, return_exceptions=True)
        fake.webhook["url"] = ""  # no more deliveries: the people have gone
        del result.latencies[warm + result.steps :]
        del result.latencies[:warm]
        result.peak_rss_mib = max(peak_kib(p.pid) for p in processes) / 1024
        result.errors += [f"refused {c.method}: {c.description}" for c in fake.refused]
        result.errors += [f"webhook delivery failed: {f.error}" for f in fake.webhook_failures]
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                await asyncio.to_thread(process.wait, 40)  # the fake must go on answering meanwhile
            except subprocess.TimeoutExpired:
                process.kill()
                result.errors.append("an instance did not stop within 40 s of SIGTERM")
            if process.returncode not in (0, None, -signal.SIGKILL):
                result.errors.append(f"an instance exited with {process.returncode}")
        phase("instances stopped")
        await fake.stop()
        await drop_database(admin_url, name)
        await redis.flushdb()
        await redis.aclose()
        for group in groups:
            group.remove()
    return result


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def per_round_ratios(by_label: dict[str, list[Round]], top: str, bottom: str, value: str) -> list[float]:
    """`value` of `top` over `value` of `bottom`, round by round (rounds of a run are paired in order)."""
    return [
        getattr(a, value) / getattr(b, value)
        for a, b in zip(by_label.get(top, []), by_label.get(bottom, []), strict=False)
        if getattr(b, value)
    ]


def report(rounds: list[Round], people: int, seconds: float) -> None:
    by_label: dict[str, list[Round]] = {}
    for r in rounds:
        by_label.setdefault(r.label, []).append(r)
    cap = rounds[0].cap if rounds else None
    print(
        f"\n{people} people, {seconds:.0f} s per round, {len(rounds) // max(1, len(by_label))} round(s) each; medians;"
        f" {'each instance capped at ' + format(cap, '.2f') + ' CPU' if cap else 'uncapped'}"
    )
    print(
        f"{'instances':>9} {'steps/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'bot ms/step':>12}"
        f" {'CPU per instance':>24} {'throttled':>10} {'harness CPU s':>14} {'PG+Redis CPU s':>15}"
        f" {'machine ms/step':>16} {'peak RSS MiB':>13}"
    )
    for label, group in sorted(by_label.items()):
        width = max(len(r.instance_cpus) for r in group)
        each = [median([r.instance_cpus[n] for r in group if len(r.instance_cpus) > n]) for n in range(width)]
        use = ",".join(f"{c:.2f}" for c in each) + (f" /{cap:.2f}" if cap else "")
        print(
            f"{label:>9} {median([r.throughput for r in group]):>9.0f} {median([r.percentile(0.5) for r in group]):>8.1f}"
            f" {median([r.percentile(0.99) for r in group]):>8.1f} {sum(len(r.errors) for r in group):>7}"
            f" {median([r.bot_ms_per_step for r in group]):>12.2f} {use:>24}"
            f" {median([float(r.throttled) for r in group]):>10.0f} {median([r.harness_cpu for r in group]):>14.1f}"
            f" {median([r.services_cpu for r in group]):>15.1f} {median([r.cpu_per_step_ms for r in group]):>16.2f}"
            f" {median([r.peak_rss_mib for r in group]):>13.0f}"
        )
    for top, target in (("2", 1.8), ("4", 3.2)):
        ratios = per_round_ratios(by_label, top, "1", "throughput")
        if ratios:
            print(
                f"{top} instances / one, throughput, per round: {', '.join(f'{x:.2f}' for x in ratios)};"
                f" median {median(ratios):.2f} (target {target})"
            )
    ratios = per_round_ratios(by_label, "1", POLLING, "bot_ms_per_step")
    if ratios:
        print(
            f"bot CPU per step, webhook on PostgreSQL+Redis / polling in memory, per round:"
            f" {', '.join(f'{x:.2f}' for x in ratios)}; median {median(ratios):.2f} (target 2)"
        )
    if cap is None and "1" in by_label:
        one = by_label["1"]
        ceiling = (
            (os.cpu_count() or 1)
            * 1000
            / median([r.cpu_per_step_ms for r in one])
            / median([r.throughput for r in one])
        )
        print(
            f"ceiling on this machine: {os.cpu_count()} cores / {median([r.cpu_per_step_ms for r in one]):.1f} ms of CPU per"
            f" step (everything, one instance) = {ceiling:.2f}x one instance's throughput, whatever the instances do"
        )
    print(f"messages among the updates answered in the window (a whole walk: {WALK_MESSAGES} of {WALK_STEPS}):")
    for label, group in sorted(by_label.items()):
        shares = [
            r.trips.get("message", {}).get("updates", 0) / total
            for r in group
            if (total := sum(c.get("updates", 0) for kind, c in r.trips.items() if kind != OUTSIDE))
        ]
        print(f"  {label:>3} {', '.join(f'{x:.0%}' for x in shares)} by round")
    print("round trips per update, by kind (medians over rounds; PostgreSQL transactions add BEGIN and COMMIT):")
    for label, group in sorted(by_label.items()):
        kinds = sorted({kind for r in group for kind, c in r.trips.items() if c.get("updates")})
        for kind in kinds:
            per = {
                what: median([r.trips[kind].get(what, 0) / r.trips[kind]["updates"] for r in group if kind in r.trips])
                for what in ("redis", "pg statements", "pg transactions")
            }
            print(
                f"  {label:>3} {kind:<15} Redis {per['redis']:.2f}, PostgreSQL statements {per['pg statements']:.2f},"
                f" transactions {per['pg transactions']:.2f}"
            )
        background = [
            sum(r.trips.get(OUTSIDE, {}).get(what, 0) for what in ("redis", "pg statements")) / r.seconds / r.instances
            for r in group
        ]
        print(
            f"  {label:>3} outside updates (timers, outbox, erasures): {median(background):.1f} round trips/s per instance"
        )
    for r in rounds:
        for error in sorted(set(r.errors))[:5]:
            print(f"  error ({r.label} instance(s)): {error}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=100, help="few enough that each walks several times a round")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--warmup", type=float, default=10.0, help="seconds walked before each round is measured; people start over it"
    )
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each configuration, alternating")
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL"), help="an admin connection")
    parser.add_argument("--redis-url", default=os.environ.get("TEST_REDIS_URL"))
    parser.add_argument("--folder", type=Path, default=Path("/tmp/passerelle-bench-load"))
    parser.add_argument(
        "--profile", type=Path, help="sample each instance with py-spy over the window, writing collapsed stacks here"
    )
    parser.add_argument(
        "--configs",
        default=f"1,2,4,{POLLING}",
        help=f"instance counts to run, comma-separated; {POLLING} = one instance polling with memory state",
    )
    parser.add_argument("--cpu-per-instance", type=float, help="cap each instance at this many CPUs (cgroups, root)")
    args = parser.parse_args()
    global PROFILE
    PROFILE = args.profile
    if not (args.database_url and args.redis_url):
        parser.error("set TEST_DATABASE_URL and TEST_REDIS_URL (or --database-url and --redis-url)")
    configs = args.configs.split(",")
    if any(c != POLLING and not c.isdigit() for c in configs):
        parser.error(f"--configs takes instance counts and {POLLING}")
    cap = args.cpu_per_instance
    if cap is not None and (why := cgroups_writable()):
        print(why, flush=True)
        cap = None
    resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
    args.folder.mkdir(parents=True, exist_ok=True)
    rounds = []
    for n in range(args.rounds):
        for label in configs if n % 2 == 0 else configs[::-1]:
            result = await one_round(
                label, args.people, args.seconds, args.database_url, args.redis_url, args.folder, cap, args.warmup
            )
            print(
                f"round {n + 1}, {label} instance(s): {result.throughput:.0f} steps/s, p50 {result.percentile(0.5):.1f} ms,"
                f" p99 {result.percentile(0.99):.1f} ms, {len(result.errors)} error(s),"
                f" bot {result.bot_ms_per_step:.2f} ms/step, CPU {'/'.join(f'{c:.2f}' for c in result.instance_cpus)}",
                flush=True,
            )
            rounds.append(result)
    report(rounds, args.people, args.seconds)
    if PROFILE is not None:
        await asyncio.sleep(1)  # py-spy writes its file as its duration ends
        print_summaries(PROFILE)


if __name__ == "__main__":
    asyncio.run(main())
