"""Benchmark: Passerelle against a bare aiogram bot, side by side, through the fake Bot API.

    python -m tests.bench [--rounds 3] [--users 20] [--seconds 8] [--people 200] [--pace-seconds 20]

Each bot runs in its own process, polling a fake Bot API in this process, exactly as it
would poll Telegram. Scripted users measure, for each bot:
- saturation throughput: each user steps as soon as its reply arrives (steps/s);
- latency at a human pace: `--people` users pausing 1-3 s between steps (p50, p99);
- the bot process's CPU time per step, and its peak memory;
- stored state per idle conversation (Passerelle only).
Rounds alternate bare and Passerelle, so both see the same machine noise; figures are
medians over rounds, and ratios are taken within a round.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import signal
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fake_telegram import FakeTelegram, FakeUser

ROOT = Path(__file__).resolve().parents[1]
MODES = ("bare", "bare+answer", "bare+screen", "passerelle")
"""bare: one short message per update (the issue's floor); bare+answer: also answers each
button press, as any bot must (Telegram shows a spinner until it does); bare+screen: and
its message is as big as one of our screens (text and nine buttons)."""
WALK: list[tuple[str, str]] = [
    ("press", "J'ai compris"),
    ("press", "Oui, je suis en sécurité"),
    ("press", "18 ans ou plus"),
    ("press", "Me soigner"),
    ("press", "Valider"),
    ("send", "75011"),
    ("press", "Je les appelle"),
    ("press", "Non"),
    ("press", "Non, ne pas envoyer"),
    ("press", "Recommencer"),
]
"""One lap of the orientation script, ending where it starts again (after /start)."""


class ReplyWatch:
    """Resolves a chat's future when the bot sends or edits a message there."""

    def __init__(self, fake: FakeTelegram) -> None:
        self.waiting: dict[int, asyncio.Future[None]] = {}
        for name in ("sendMessage", "editMessageText"):
            fake._handlers[name] = self._wrap(fake._handlers[name])  # noqa: SLF001

    def _wrap(self, original: Any) -> Any:
        def handler(spec: Any, params: dict[str, Any]) -> Any:
            result = original(spec, params)
            future = self.waiting.pop(int(params["chat_id"]), None)
            if future is not None and not future.done():
                future.set_result(None)
            return result

        return handler

    def expect(self, chat_id: int) -> asyncio.Future[None]:
        future = asyncio.get_running_loop().create_future()
        self.waiting[chat_id] = future
        return future


class BenchUser(FakeUser):
    """A FakeUser that does not wait for the update to be handled: the benchmark waits for the reply."""

    async def _push(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self.fake.push(payload)


@dataclass
class Walker:
    user: BenchUser
    watch: ReplyWatch
    bare: bool
    position: int = -1
    latencies: list[float] = field(default_factory=list)

    async def step(self) -> float:
        """One action, timed from the push to the bot's reply in this chat."""
        reply = self.watch.expect(self.user.chat_id)
        started = time.perf_counter()
        if self.position < 0:
            await self.user.send("/start")
        else:
            kind, what = WALK[self.position]
            if kind == "send":
                await self.user.send(what)
            elif self.bare:  # the same kind of update; the bare bot has no buttons to read
                await self.user.press_data("x", self.user.last()["message_id"])
            else:
                await self.user.press(what)
        await asyncio.wait_for(reply, 30)
        elapsed = time.perf_counter() - started
        self.position = 0 if self.position < 0 else (self.position + 1) % len(WALK)
        return elapsed


@dataclass
class Figures:
    steps_per_s: float = 0.0
    cpu_ms_per_step: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    peak_kib: int = 0
    state_bytes_per_conversation: float = 0.0
    errors: int = 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


async def measure(mode: str, users: int, seconds: float, people: int, pace_seconds: float) -> Figures:
    figures = Figures()
    gc.collect()
    gc.freeze()  # the harness's own collections would show up as the bot's latency
    fake = FakeTelegram(keep_requests=False)
    base_url = await fake.start()
    watch = ReplyWatch(fake)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.bench_bot", mode, base_url,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, env={**os.environ, "LOG_LEVEL": "WARNING"},
    )
    bare = mode != "passerelle"
    try:
        warm = Walker(BenchUser(fake, 1), watch, bare)
        for _ in range(len(WALK) + 1):
            await warm.step()

        # saturation: every user steps as soon as its reply arrives
        walkers = [Walker(BenchUser(fake, 100_000 + n), watch, bare) for n in range(users)]
        deadline = time.perf_counter() + seconds
        counts = [0] * users

        async def run(index: int) -> None:
            while time.perf_counter() < deadline:
                await walkers[index].step()
                counts[index] += 1

        cpu_before, started = cpu_seconds(process.pid), time.perf_counter()
        await asyncio.gather(*(run(i) for i in range(users)))
        elapsed, cpu = time.perf_counter() - started, cpu_seconds(process.pid) - cpu_before
        figures.steps_per_s = sum(counts) / elapsed
        figures.cpu_ms_per_step = 1000 * cpu / max(sum(counts), 1)

        # human pace: many people, each pausing 1-3 s between steps
        rng = random.Random(7)
        paced = [Walker(BenchUser(fake, 200_000 + n), watch, bare) for n in range(people)]
        pace_deadline = time.perf_counter() + pace_seconds

        async def person(walker: Walker) -> None:
            await asyncio.sleep(rng.uniform(0, 2))
            while time.perf_counter() < pace_deadline:
                walker.latencies.append(await walker.step())
                await asyncio.sleep(rng.uniform(1, 3))

        await asyncio.gather(*(person(w) for w in paced))
        latencies = sorted(x for w in paced for x in w.latencies)
        figures.p50_ms = 1000 * statistics.median(latencies)
        figures.p99_ms = 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
        figures.peak_kib = peak_kib(process.pid)
        process.send_signal(signal.SIGUSR1)
        assert process.stdout is not None
        held = json.loads(await asyncio.wait_for(process.stdout.readline(), 30))
        if held["conversations"]:
            figures.state_bytes_per_conversation = held["state_bytes"] / held["conversations"]
    finally:
        if process.returncode is None:
            process.terminate()
        await asyncio.wait_for(process.communicate(), 60)
        await fake.stop()
    figures.errors = len(fake.refused)
    return figures


def median(rounds: list[Figures], name: str) -> float:
    return statistics.median(getattr(f, name) for f in rounds)


async def main(args: argparse.Namespace) -> None:
    results: dict[str, list[Figures]] = {mode: [] for mode in MODES}
    for round_number in range(args.rounds):
        for mode in MODES:
            figures = await measure(mode, args.users, args.seconds, args.people, args.pace_seconds)
            results[mode].append(figures)
            print(f"round {round_number + 1} {mode:>10}: {figures}", flush=True)
    print()
    print(f"{'median of ' + str(args.rounds) + ' rounds':<40}" + "".join(f"{m:>14}" for m in MODES))
    rows = [
        ("saturation throughput (steps/s)", "steps_per_s", "{:.0f}"),
        ("bot CPU per step (ms)", "cpu_ms_per_step", "{:.2f}"),
        (f"p50 at human pace, {args.people} people (ms)", "p50_ms", "{:.1f}"),
        (f"p99 at human pace, {args.people} people (ms)", "p99_ms", "{:.1f}"),
        ("peak memory of the bot (MiB)", "peak_kib", "{:.0f}"),
        ("state per idle conversation (bytes)", "state_bytes_per_conversation", "{:.0f}"),
        ("refused calls", "errors", "{:.0f}"),
    ]
    for label, name, fmt in rows:
        scale = 1 / 1024 if name == "peak_kib" else 1
        print(f"{label:<40}" + "".join(f"{fmt.format(median(results[m], name) * scale):>14}" for m in MODES))
    for floor in MODES[:-1]:
        ratios = [p.steps_per_s / b.steps_per_s for b, p in zip(results[floor], results["passerelle"], strict=True)]
        print(f"throughput Passerelle / {floor} (median of per-round ratios): {statistics.median(ratios):.2f}")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--users", type=int, default=20, help="concurrent users for saturation")
    parser.add_argument("--seconds", type=float, default=8, help="saturation phase length")
    parser.add_argument("--people", type=int, default=200, help="people at a human pace")
    parser.add_argument("--pace-seconds", type=float, default=20, help="human-pace phase length")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
