"""The benchmark's scripted people, in a process of their own (see benchmarks/bench.py).

    python -m benchmarks.bench_driver MODE CONTROL_PORT BOT_PID FAKE_PID USERS SECONDS PEOPLE PACE_SECONDS

Steers the fake Bot API (benchmarks/bench_fake.py) through its control socket, times each step
from the command to the bot's reply, reads the bot's CPU time from /proc, and prints one
JSON line of figures. Every mode gets the same updates in the same order: the floors have
no buttons to read, so their presses carry data "x", but they are callback queries all
the same, and the text steps are the same texts.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import signal
import statistics
import sys
import time
from pathlib import Path
from typing import Any

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


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


class Control:
    """The socket to the fake: commands out, replies in, one future per waiting chat."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.waiting: dict[int, asyncio.Future[None]] = {}
        self.report: asyncio.Future[dict[str, Any]] | None = None
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while line := await self.reader.readline():
            if line.startswith(b"{"):
                assert self.report is not None
                self.report.set_result(json.loads(line))
                continue
            kind, _, rest = line.decode().rstrip("\n").partition(" ")
            chat_text, _, why = rest.partition(" ")
            future = self.waiting.pop(int(chat_text), None)
            if future is None or future.done():
                continue
            if kind == "r":
                future.set_result(None)
            else:
                future.set_exception(RuntimeError(f"the fake could not carry out a step: {why}"))

    def send(self, command: str, chat: int) -> asyncio.Future[None]:
        future = asyncio.get_running_loop().create_future()
        self.waiting[chat] = future
        self.writer.write(command.encode() + b"\n")
        return future

    async def ask(self) -> dict[str, Any]:
        self.report = asyncio.get_running_loop().create_future()
        self.writer.write(b"?\n")
        return await asyncio.wait_for(self.report, 30)


class Walker:
    def __init__(self, control: Control, chat: int, bare: bool) -> None:
        self.control, self.chat, self.bare = control, chat, bare
        self.position = -1
        self.latencies: list[float] = []

    async def step(self, timeout: float = 30) -> float:
        """One action, timed from the command to the bot's reply in this chat."""
        if self.position < 0:
            command = f"s {self.chat} /start"
        else:
            kind, what = WALK[self.position]
            if kind == "send":
                command = f"s {self.chat} {what}"
            elif self.bare:
                command = f"x {self.chat}"
            else:
                command = f"p {self.chat} {what}"
        started = time.perf_counter()
        await asyncio.wait_for(self.control.send(command, self.chat), timeout)
        elapsed = time.perf_counter() - started
        self.position = 0 if self.position < 0 else (self.position + 1) % len(WALK)
        return elapsed


async def main() -> None:
    mode, port, bot_pid, fake_pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    users, seconds, people, pace_seconds = int(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7]), float(sys.argv[8])
    bare = mode != "passerelle"
    control = Control(*await asyncio.open_connection("127.0.0.1", port))
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    figures: dict[str, Any] = {}

    warm = Walker(control, 1, bare)
    await warm.step(timeout=600)  # the bot may still be starting (schema, menus, profiler)
    for _ in range(2 * len(WALK)):
        await warm.step()
    os.kill(bot_pid, signal.SIGUSR2)  # the bot counts its GC pauses from here

    # saturation: every user steps as soon as its reply arrives
    walkers = [Walker(control, 100_000 + n, bare) for n in range(users)]
    deadline = time.perf_counter() + seconds
    counts = [0] * users

    async def run(index: int) -> None:
        while time.perf_counter() < deadline:
            await walkers[index].step()
            counts[index] += 1

    bot_before, fake_before, own_before = cpu_seconds(bot_pid), cpu_seconds(fake_pid), time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(run(i) for i in range(users)))
    elapsed = time.perf_counter() - started
    steps = max(sum(counts), 1)
    figures["steps_per_s"] = sum(counts) / elapsed
    figures["cpu_ms_per_step"] = 1000 * (cpu_seconds(bot_pid) - bot_before) / steps
    figures["fake_cpu_ms_per_step"] = 1000 * (cpu_seconds(fake_pid) - fake_before) / steps
    figures["driver_cpu_ms_per_step"] = 1000 * (time.process_time() - own_before) / steps

    # human pace: many people, each pausing 1-3 s between steps
    rng = random.Random(7)
    paced = [Walker(control, 200_000 + n, bare) for n in range(people)]
    pace_deadline = time.perf_counter() + pace_seconds

    async def person(walker: Walker) -> None:
        await asyncio.sleep(rng.uniform(0, 2))
        while time.perf_counter() < pace_deadline:
            walker.latencies.append(await walker.step())
            await asyncio.sleep(rng.uniform(1, 3))

    bot_before = cpu_seconds(bot_pid)
    await asyncio.gather(*(person(w) for w in paced))
    latencies = sorted(x for w in paced for x in w.latencies)
    figures["paced_cpu_ms_per_step"] = 1000 * (cpu_seconds(bot_pid) - bot_before) / max(len(latencies), 1)
    figures["p50_ms"] = 1000 * statistics.median(latencies)
    figures["p99_ms"] = 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    figures["max_ms"] = 1000 * latencies[-1]
    figures["peak_kib"] = peak_kib(bot_pid)
    await asyncio.sleep(0.2)  # let the last callback answers land
    figures.update(await control.ask())
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
