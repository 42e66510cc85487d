"""Where the instances' time goes: py-spy's collapsed stacks, summed by package and by function.

    python -m benchmarks.profiles FOLDER      # the files `bench_load --profile FOLDER` wrote

Each line of a collapsed file is `frame;frame;…;leaf count`. A sample is charged to its
leaf's package (aiogram, pydantic, redis, asyncio and the socket calls under it, our own
bot/dialogs/storage…) and function. py-spy samples wall-clock time: under a CPU cap, the
time an instance spends throttled is charged to whatever it was doing when the cap struck,
which is often a socket write that woke another process. Read the shares as "where the
instance was", a guide to look further, not as CPU time.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"(?P<function>.*) \((?P<file>.*):\d+\)$")


def package(file: str) -> str:
    """`aiogram`, `redis`, `asyncio`, `bot`… from a frame's file, which py-spy gives relative
    to its folder on sys.path (`asyncio/selector_events.py`, `<frozen runpy>`)."""
    if file.startswith("<frozen "):
        file = file.removeprefix("<frozen ").removesuffix(">").replace(".", "/")
    return Path(file).parts[0].removesuffix(".py") if file else "?"


def leaves(path: Path) -> Counter[tuple[str, str]]:
    """Samples by (package, function) of the leaf frame."""
    counts: Counter[tuple[str, str]] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        match = FRAME.match(stack.rsplit(";", 1)[-1])
        leaf = (package(match["file"]), match["function"]) if match else ("?", stack.rsplit(";", 1)[-1])
        counts[leaf] += int(count)
    return counts


def summary(files: list[Path], top: int = 12) -> list[str]:
    """Shares of samples by package, then the functions with the most samples."""
    counts: Counter[tuple[str, str]] = Counter()
    for path in files:
        counts.update(leaves(path))
    total = sum(counts.values())
    if not total:
        return ["  no samples"]
    by_package: Counter[str] = Counter()
    for (name, _function), n in counts.items():
        by_package[name] += n
    lines = ["  by package: " + ", ".join(f"{name} {n / total:.0%}" for name, n in by_package.most_common(8))]
    lines += [f"  {n / total:6.1%}  {name}: {function}" for (name, function), n in counts.most_common(top)]
    return lines


def print_summaries(folder: Path) -> None:
    """One summary per configuration: the files are named `<label>-instance<n>-<time>.txt`."""
    labels = sorted({path.name.split("-instance", 1)[0] for path in folder.glob("*-instance*.txt")})
    print(
        f"where the instances were (py-spy samples over the measured windows, {folder}; wall-clock, see benchmarks/profiles.py):"
    )
    for label in labels:
        print(f" {label} instance(s):")
        for line in summary(sorted(folder.glob(f"{label}-instance*.txt"))):
            print(line)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="the folder given to `bench_load --profile`")
    folder = parser.parse_args().folder
    if not folder.is_dir():
        parser.error(f"{folder} is not a folder")
    print_summaries(folder)
