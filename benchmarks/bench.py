"""Benchmark: Passerelle against bare aiogram floors, side by side, through the fake Bot API.

    python -m benchmarks.bench [--rounds 3] [--users 20] [--seconds 8] [--people 200] [--pace-seconds 20] [--pin]

Three processes per measurement, so that latency measures the bot and not the harness:
- the fake Bot API (benchmarks/bench_fake.py), which the bot polls exactly as it would poll Telegram;
- the bot (benchmarks/bench_bot.py): Passerelle as `passerelle run` starts it, or a bare floor;
- the scripted people (benchmarks/bench_driver.py), who steer the fake through a socket.
Every mode gets the same fake, the same driver and the same updates. For each bot:
- saturation throughput: each user steps as soon as its reply arrives (steps/s);
- latency at a human pace: `--people` users pausing 1-3 s between steps (p50, p99);
- the bot process's CPU time per step, and its peak memory;
- stored state per idle conversation (Passerelle only);
- the harness's own CPU per step (fake, driver), to show it is not what limits throughput.
Rounds alternate the modes, so all see the same machine noise; figures are medians over
rounds, and ratios are taken within a round. `--pin` puts the bot on one core and the
harness on the other (os.sched_setaffinity), so neither steals the other's core.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
from dataclasses import dataclass, fields
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODES = ("bare", "bare+answer", "bare+screen", "lean+screen", "passerelle")
"""bare: one short message per update (the issue's floor); bare+answer: also answers each
button press, as any bot must (Telegram shows a spinner until it does); bare+screen: and
its message is as big as one of our screens (text and nine buttons); lean+screen: the
same, through Passerelle's own HTTP session, so that what is left between it and
Passerelle is Passerelle's own work per update (state, engine, rendering, routing)."""
HARNESS_CPU, BOT_CPU = 1, 0
"""With --pin: the core of the fake and the driver, and the bot's."""


@dataclass
class Figures:
    steps_per_s: float = 0.0
    cpu_ms_per_step: float = 0.0
    paced_cpu_ms_per_step: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    peak_kib: int = 0
    state_bytes_per_conversation: float = 0.0
    fake_cpu_ms_per_step: float = 0.0
    driver_cpu_ms_per_step: float = 0.0
    refused: int = 0
    unanswered: int = 0
    gc_over_2ms: int = 0
    gc_max_ms: float = 0.0

    def __str__(self) -> str:
        return " ".join(f"{f.name}={getattr(self, f.name):.4g}" for f in fields(self))


async def spawn(module: str, *args: str, cpu: int | None) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "LOG_LEVEL": "WARNING"},
    )
    if cpu is not None:
        os.sched_setaffinity(process.pid, {cpu})
    return process


async def line_of(process: asyncio.subprocess.Process, timeout: float) -> dict:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout)
    if not line:
        raise RuntimeError(f"{process.pid} ended without answering")
    return json.loads(line)


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
    await asyncio.wait_for(process.communicate(), 60)


async def measure(mode: str, args: argparse.Namespace) -> Figures:
    figures = Figures()
    harness_cpu, bot_cpu = (HARNESS_CPU, BOT_CPU) if args.pin else (None, None)
    fake = await spawn("benchmarks.bench_fake", cpu=harness_cpu)
    bot = driver = None
    try:
        address = await line_of(fake, 60)
        bot = await spawn("benchmarks.bench_bot", mode, address["base_url"], cpu=bot_cpu)
        driver = await spawn(
            "benchmarks.bench_driver",
            mode,
            str(address["control_port"]),
            str(bot.pid),
            str(fake.pid),
            str(args.users),
            str(args.seconds),
            str(args.people),
            str(args.pace_seconds),
            cpu=harness_cpu,
        )
        result = await line_of(driver, 120 + args.seconds + args.pace_seconds)
        for name in (
            "steps_per_s",
            "cpu_ms_per_step",
            "paced_cpu_ms_per_step",
            "p50_ms",
            "p99_ms",
            "max_ms",
            "peak_kib",
            "fake_cpu_ms_per_step",
            "driver_cpu_ms_per_step",
            "refused",
        ):
            setattr(figures, name, result[name])
        figures.unanswered = result["callback_queries"] - result["callbacks_answered"]
        if result["refusals"]:
            print(f"  refused: {result['refusals']}", flush=True)
        bot.send_signal(signal.SIGUSR1)
        held = await line_of(bot, 30)
        if held["conversations"]:
            figures.state_bytes_per_conversation = held["state_bytes"] / held["conversations"]
        figures.gc_over_2ms, figures.gc_max_ms = held["gc_over_2ms"], held["gc_max_ms"]
    finally:
        for process in (driver, bot, fake):
            if process is not None:
                await stop(process)
    return figures


def median(rounds: list[Figures], name: str) -> float:
    return statistics.median(getattr(f, name) for f in rounds)


async def main(args: argparse.Namespace) -> None:
    modes = [m for m in args.modes.split(",") if m]
    unknown = set(modes) - set(MODES)
    if unknown:
        raise SystemExit(f"unknown modes: {sorted(unknown)}")
    results: dict[str, list[Figures]] = {mode: [] for mode in modes}
    for round_number in range(args.rounds):
        for mode in modes:
            figures = await measure(mode, args)
            results[mode].append(figures)
            print(f"round {round_number + 1} {mode:>12}: {figures}", flush=True)
    print()
    pinned = "bot pinned to one core, harness to the other" if args.pin else "no pinning"
    print(
        f"{args.users} users saturating for {args.seconds:g} s; {args.people} people for {args.pace_seconds:g} s; {pinned}"
    )
    print(f"{'median of ' + str(args.rounds) + ' rounds':<42}" + "".join(f"{m:>13}" for m in modes))
    rows = [
        ("saturation throughput (steps/s)", "steps_per_s", "{:.0f}"),
        ("bot CPU per step, saturated (ms)", "cpu_ms_per_step", "{:.2f}"),
        (f"p50 at human pace, {args.people} people (ms)", "p50_ms", "{:.1f}"),
        (f"p99 at human pace, {args.people} people (ms)", "p99_ms", "{:.1f}"),
        ("max at human pace (ms)", "max_ms", "{:.1f}"),
        ("bot CPU per step at human pace (ms)", "paced_cpu_ms_per_step", "{:.2f}"),
        ("peak memory of the bot (MiB)", "peak_kib", "{:.0f}"),
        ("state per idle conversation (bytes)", "state_bytes_per_conversation", "{:.0f}"),
        ("fake Bot API CPU per step (ms)", "fake_cpu_ms_per_step", "{:.2f}"),
        ("driver CPU per step (ms)", "driver_cpu_ms_per_step", "{:.2f}"),
        ("refused calls", "refused", "{:.0f}"),
        ("callback queries left unanswered", "unanswered", "{:.0f}"),
        ("bot's GC pauses over 2 ms, measured part", "gc_over_2ms", "{:.0f}"),
        ("bot's longest GC pause (ms)", "gc_max_ms", "{:.1f}"),
    ]
    for label, name, fmt in rows:
        scale = 1 / 1024 if name == "peak_kib" else 1
        print(f"{label:<42}" + "".join(f"{fmt.format(median(results[m], name) * scale):>13}" for m in modes))
    if "passerelle" in modes:
        for floor in (m for m in modes if m != "passerelle"):
            pairs = zip(results[floor], results["passerelle"], strict=True)
            ratios = [p.steps_per_s / b.steps_per_s for b, p in pairs]
            print(f"throughput Passerelle / {floor} (median of per-round ratios): {statistics.median(ratios):.2f}")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--users", type=int, default=20, help="concurrent users for saturation")
    parser.add_argument("--seconds", type=float, default=8, help="saturation phase length")
    parser.add_argument("--people", type=int, default=200, help="people at a human pace")
    parser.add_argument("--pace-seconds", type=float, default=20, help="human-pace phase length")
    parser.add_argument("--pin", action="store_true", help="bot on one core, fake and driver on the other")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated subset of " + ", ".join(MODES))
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
