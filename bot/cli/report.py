"""`passerelle report`: the anonymous statistics of a period, as CSV, charts and one page.

No aiogram here: an operator's command, started in a blink (tests/test_architecture.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from pathlib import Path

from bot.config import load_settings
from bot.report import charts, csv_text, gather, html_page
from storage.db import create_engine, ensure_schema, sessions
from storage.places import places

MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def _month(value: str) -> str:
    if not MONTH.fullmatch(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a month: use YYYY-MM, e.g. 2026-01")
    return value


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `report` to the `passerelle` parser."""
    parser = commands.add_parser(
        "report",
        help="anonymous statistics of a period: report.csv, PNG charts and report.html (in French)",
        description="Write the anonymous statistics of months FROM to TO: report.csv, PNG charts and a "
        "self-contained report.html to print. Counts under STATS_MIN_COUNT are hidden.",
    )
    parser.add_argument("--from", dest="first", type=_month, required=True, metavar="YYYY-MM")
    parser.add_argument("--to", dest="last", type=_month, required=True, metavar="YYYY-MM")
    parser.add_argument("--departement", default=None, metavar="CODE", help="one département, e.g. 34, 2A, 971")
    parser.add_argument("-o", "--output", type=Path, default=Path("report"), metavar="DIR", help="default: report/")


async def run(args: argparse.Namespace) -> int:
    """Write the report; 1 when the arguments cannot make one."""
    settings = load_settings()
    if args.first > args.last:
        print(f"passerelle: --from {args.first} is after --to {args.last}", file=sys.stderr)
        return 1
    departement = None
    if args.departement:
        found = places().departement(args.departement)
        if found is None:
            print(f"passerelle: unknown département {args.departement!r}", file=sys.stderr)
            return 1
        departement = found.code
    engine = create_engine(settings.database_url)
    try:
        await ensure_schema(engine)
        report = await gather(sessions(engine), args.first, args.last, settings.stats_min_count, departement)
    finally:
        await engine.dispose()
    out: Path = args.output
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.csv").write_text(csv_text(report), encoding="utf-8")
    images = charts(report)
    for name, data in images.items():
        (out / f"{name}.png").write_bytes(data)
    (out / "report.html").write_text(html_page(report, images, dt.datetime.now(dt.UTC).date()), encoding="utf-8")
    print(f"report of {report.scope}, {report.period}: {len(images)} charts, report.csv and report.html in {out}/")
    return 0
