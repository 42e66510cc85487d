"""`passerelle outbox ...`: what waits to be sent, and sending one again. Never a message's text.

No aiogram here: these commands must start in a blink.
"""

from __future__ import annotations

import argparse
import datetime as dt

from storage.db import create_engine, ensure_schema, sessions
from storage.outbox import Listed, list_rows, retry


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `outbox` and its sub-commands to the `passerelle` parser."""
    parser = commands.add_parser("outbox", help="messages waiting for association chats and staff (never their text)")
    actions = parser.add_subparsers(dest="outbox_action", required=True)
    listed = actions.add_parser("list", help="messages not sent: state, age, error class, association")
    listed.add_argument("--all", action="store_true", help="sent ones too")
    retried = actions.add_parser("retry", help="send a waiting message now, or release a held notice")
    retried.add_argument("id", type=int)


async def run(args: argparse.Namespace, database_url: str) -> int:
    """Run one `outbox` sub-command; 0 on success, 1 when nothing was done."""
    engine = create_engine(database_url)
    try:
        await ensure_schema(engine)
        async with sessions(engine).begin() as session:
            if args.outbox_action == "list":
                _print(await list_rows(session, everything=getattr(args, "all", False)))
                return 0
            refused = await retry(session, args.id)
    finally:
        await engine.dispose()
    if refused:
        print(f"passerelle: message {args.id}: {refused}")
        return 1
    print(f"message {args.id}: will be sent within seconds by the running bot")
    return 0


def _age(age: dt.timedelta | None) -> str:
    if age is None:
        return "-"
    minutes = int(age.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d}" if minutes >= 60 else f"{minutes} min"


def _print(rows: list[Listed]) -> None:
    if not rows:
        print("Nothing waits: every message was sent.")
        return
    header = ("id", "kind", "state", "age", "error", "tries", "association", "ticket")
    table = [header] + [
        (
            str(r.id),
            r.kind,
            r.status,
            _age(r.age),
            r.error_class or "-",
            str(r.attempts),
            r.association or ("(staff)" if r.kind == "alert" else "-"),
            str(r.ticket_id or "-"),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
