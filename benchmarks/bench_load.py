"""Load benchmark, webhook mode: scripted people over one and over two instances.

    TEST_DATABASE_URL=postgresql+asyncpg://… TEST_REDIS_URL=redis://… python -m benchmarks.bench_load

Each instance is a real `passerelle run` process in webhook mode, sharing one PostgreSQL
database and one Redis. This process plays Telegram: the fake Bot API that the instances
call, and the webhook deliveries to them, spread round-robin over the instances as a
reverse proxy without sticky sessions would (the harder case: one person's successive
updates land on different instances, so state and locks must live in Redis). At most
40 deliveries are in flight at once, Telegram's default `max_connections`.

The people walk the script to the consent screen, `/forget`, and again, each stepping as
soon as the previous step was answered (saturation); the round ends after a fixed time,
and counts the steps answered within it. Rounds of one and two instances
alternate in one run; the figures are medians over rounds. Everything is on loopback,
on the same 2 cores as the harness: read the ratio with that in mind (the harness's own
CPU time is printed).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from sqlalchemy.engine import make_url

from benchmarks.bench_driver import cpu_seconds, peak_kib
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


@dataclass
class Round:
    instances: int
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


async def person(user: TimedUser, result: Round) -> None:
    """Walks again and again until cancelled at the end of the round."""
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
"""--profile: each instance runs under `py-spy record` (pip install py-spy), written here."""


def start_instance(port: int, api_url: str, database_url: str, redis_url: str, folder: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "BOT_TOKEN": DEFAULT_TOKEN,
        "BOT_API_URL": api_url,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PASSERELLE_SECRET": SECRET,
        "WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram/update",
        "WEBHOOK_PORT": str(port),
        "LOG_LEVEL": "WARNING",
    }
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "bot.cli", "run", "--webhook"]
    if PROFILE is not None:
        PROFILE.mkdir(parents=True, exist_ok=True)
        output = PROFILE / f"instance-{port}-{time.time_ns()}.txt"
        command = ["py-spy", "record", "--format", "raw", "--nonblocking", "-o", str(output), "--", *command]
    with open(folder / f"instance-{port}.log", "wb") as log:  # the child keeps its own copy
        return subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=log)


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


async def one_round(count: int, people: int, seconds: float, admin_url: str, redis_url: str, folder: Path) -> Round:
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    name, database_url = await fresh_database(admin_url)
    ports = [BASE_PORT + n for n in range(count)]
    result = Round(count)
    fake = ProxiedTelegram([f"127.0.0.1:{port}" for port in ports])
    processes: list[subprocess.Popen[bytes]] = []
    try:
        api_url = await fake.start()
        processes = [start_instance(port, api_url, database_url, redis_url, folder) for port in ports]
        await asyncio.gather(*(healthy(port) for port in ports))
        phase(f"{count} instance(s) healthy")
        await fake.wait_for(lambda: fake.webhook.get("url"), timeout=30)
        users = []
        round_over = asyncio.Event()
        for n in range(people):
            user = TimedUser(fake, 900_000_000 + n, timeout=60)
            user.latencies = result.latencies
            user.round_over = round_over
            users.append(user)
        cpu_before = [cpu_seconds(p.pid) for p in processes]
        harness_before = time.process_time()
        services_before = services_cpu()
        started = time.perf_counter()
        walking = [asyncio.create_task(person(user, result)) for user in users]
        await asyncio.sleep(seconds)
        result.steps = len(result.latencies)  # steps answered within the round
        result.seconds = time.perf_counter() - started
        result.harness_cpu = time.process_time() - harness_before
        result.services_cpu = services_cpu() - services_before
        result.instance_cpu = sum(cpu_seconds(p.pid) - before for p, before in zip(processes, cpu_before, strict=True))
        phase("round over")
        round_over.set()
        for task in walking:
            task.cancel()
        await asyncio.gather(*walking, return_exceptions=True)
        fake.webhook["url"] = ""  # no more deliveries: the people have gone
        del result.latencies[result.steps :]
        result.peak_rss_mib = max(peak_kib(p.pid) for p in processes) / 1024
        result.errors += [f"refused {c.method}: {c.description}" for c in fake.refused]
        result.errors += [f"webhook delivery failed: {f.error}" for f in fake.webhook_failures]
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM if PROFILE is None else signal.SIGINT)  # py-spy writes on SIGINT
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
    return result


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(rounds: list[Round], people: int, seconds: float) -> None:
    by_count: dict[int, list[Round]] = {}
    for r in rounds:
        by_count.setdefault(r.instances, []).append(r)
    print(
        f"\n{people} people, {seconds:.0f} s per round, {len(rounds) // max(1, len(by_count))} round(s) each; medians"
    )
    print(
        f"{'instances':>9} {'steps/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'bot CPU s':>10}"
        f" {'harness CPU s':>14} {'PG+Redis CPU s':>15} {'CPU ms/step':>12} {'peak RSS MiB':>13}"
    )
    for count, group in sorted(by_count.items()):
        print(
            f"{count:>9} {median([r.throughput for r in group]):>9.0f} {median([r.percentile(0.5) for r in group]):>8.1f}"
            f" {median([r.percentile(0.99) for r in group]):>8.1f} {sum(len(r.errors) for r in group):>7}"
            f" {median([r.instance_cpu for r in group]):>10.1f} {median([r.harness_cpu for r in group]):>14.1f}"
            f" {median([r.services_cpu for r in group]):>15.1f} {median([r.cpu_per_step_ms for r in group]):>12.1f}"
            f" {median([r.peak_rss_mib for r in group]):>13.0f}"
        )
    if 1 in by_count and 2 in by_count:
        ratios = [b.throughput / a.throughput for a, b in zip(by_count[1], by_count[2], strict=False) if a.throughput]
        print(
            f"two instances / one, per round: {', '.join(f'{x:.2f}' for x in ratios)}; median {median(ratios):.2f} (target 1.6)"
        )
        one = by_count[1]
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
    for r in rounds:
        for error in sorted(set(r.errors))[:5]:
            print(f"  error ({r.instances} instance(s)): {error}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each configuration, alternating")
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL"), help="an admin connection")
    parser.add_argument("--redis-url", default=os.environ.get("TEST_REDIS_URL"))
    parser.add_argument("--folder", type=Path, default=Path("/tmp/passerelle-bench-load"))
    parser.add_argument("--profile", type=Path, help="run each instance under py-spy, writing collapsed stacks here")
    parser.add_argument("--only", type=int, choices=(1, 2), help="run only this many instances")
    args = parser.parse_args()
    global PROFILE
    PROFILE = args.profile
    if not (args.database_url and args.redis_url):
        parser.error("set TEST_DATABASE_URL and TEST_REDIS_URL (or --database-url and --redis-url)")
    resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
    rounds = []
    for n in range(args.rounds):
        for count in ((1, 2) if n % 2 == 0 else (2, 1)) if args.only is None else (args.only,):
            result = await one_round(count, args.people, args.seconds, args.database_url, args.redis_url, args.folder)
            print(
                f"round {n + 1}, {count} instance(s): {result.throughput:.0f} steps/s, p50 {result.percentile(0.5):.1f} ms,"
                f" p99 {result.percentile(0.99):.1f} ms, {len(result.errors)} error(s)",
                flush=True,
            )
            rounds.append(result)
    report(rounds, args.people, args.seconds)


if __name__ == "__main__":
    asyncio.run(main())
