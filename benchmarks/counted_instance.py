"""`passerelle run`, counting the Redis and PostgreSQL round trips each update makes.

    BENCH_COUNTS=FILE python -m benchmarks.counted_instance run [--webhook]

Started by `benchmarks.bench_load` in place of `python -m bot.cli`. It runs the same CLI, with
three counters attributed to the update being handled (a context variable set in
`Dispatcher.feed_update`, which tasks started from it inherit):
- Redis: each `send_packed_command`, i.e. one round trip (a pipeline is one);
- PostgreSQL statements: SQLAlchemy's `before_cursor_execute`;
- PostgreSQL transactions: its `begin` events; with asyncpg, BEGIN and COMMIT (or ROLLBACK)
  are each one more round trip.
With BENCH_POLL_SERIALLY=1, polling handles one update at a time (`handle_as_tasks=False`, as
the tests do): the fake Bot API can then tell when an update is finished (the next getUpdates),
so the scripted people wait for each answer as they do in webhook mode.
On SIGUSR1 it writes the totals by update kind to FILE as JSON, so the harness can take the
difference over its measured window. Nothing here changes what the bot does.
"""

from __future__ import annotations

import contextvars
import json
import os
import runpy
import signal
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

COUNTS: defaultdict[str, Counter[str]] = defaultdict(Counter)
OUTSIDE = "outside an update"
KIND: contextvars.ContextVar[str] = contextvars.ContextVar("bench_update_kind", default=OUTSIDE)


def count(what: str) -> None:
    COUNTS[KIND.get()][what] += 1


def install() -> None:
    from aiogram import Dispatcher
    from redis.asyncio.connection import AbstractConnection
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    send = AbstractConnection.send_packed_command

    async def counted_send(self: AbstractConnection, *args: Any, **kwargs: Any) -> None:
        count("redis")
        await send(self, *args, **kwargs)

    AbstractConnection.send_packed_command = counted_send  # type: ignore[method-assign]  # counting, same signature

    feed = Dispatcher.feed_update

    async def counted_feed(self: Dispatcher, bot: Any, update: Any, **kwargs: Any) -> Any:
        token = KIND.set(update.event_type)
        try:
            count("updates")
            return await feed(self, bot, update, **kwargs)
        finally:
            KIND.reset(token)

    Dispatcher.feed_update = counted_feed  # type: ignore[method-assign]  # counting, same signature
    if os.environ.get("BENCH_POLL_SERIALLY"):
        from bot.app import App

        run_polling = App.run_polling

        async def serially(self: App, **kwargs: Any) -> None:
            await run_polling(self, **{**kwargs, "handle_as_tasks": False})

        App.run_polling = serially  # type: ignore[method-assign]  # the benchmark forces one update at a time
    event.listen(Engine, "before_cursor_execute", lambda *_args: count("pg statements"))
    event.listen(Engine, "begin", lambda *_args: count("pg transactions"))


def dump(_signal: int, _frame: object) -> None:
    """Written aside, then renamed: the harness never reads half a file (a capped instance
    can be throttled mid-write)."""
    path = Path(os.environ["BENCH_COUNTS"])
    aside = path.with_suffix(".tmp")
    aside.write_text(json.dumps({kind: dict(c) for kind, c in COUNTS.items()}))
    aside.replace(path)


if __name__ == "__main__":
    install()
    signal.signal(signal.SIGUSR1, dump)
    sys.argv = ["passerelle", *sys.argv[1:]]
    runpy.run_module("bot.cli", run_name="__main__", alter_sys=True)
