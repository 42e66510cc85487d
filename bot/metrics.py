"""What a monitoring stack scrapes: `GET /metrics`, in Prometheus's text format.

Served beside /healthz in webhook mode (bot.webhook), and on 127.0.0.1:METRICS_PORT when
polling (`serving` below). Each App has its own registry (on its Runtime), not
prometheus_client's global one: tests run several Apps in one process. One process per
instance, so no multiprocess mode: Prometheus scrapes each instance and sums.

Labels come from fixed sets only (update kinds, outbox message kinds, failure classes, limit
names): never an id, a chat, a code, a language, a place or any text. A value outside its
set is counted as "other". The outbox gauges are read from the database at scrape time, in
one query.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import METRICS_PATH, ConfigError
from storage.models import now
from storage.outbox import WAITING, backlog

log = logging.getLogger(__name__)

UPDATE_KINDS = ("message", "callback_query", "edited_message", "my_chat_member", "other")
MESSAGE_KINDS = ("notice", "relay", "info", "alert", "other")
"""storage.models.OutboxMessage.kind."""
ERROR_CLASSES = ("migrated", "gone", "rate_limited", "transient", "refused", "other")
"""bot.transport.failures.Kind."""
LIMITS = ("handoffs_per_day", "relays_per_hour", "code_guesses", "notices_per_association_hour")
"""The settings (or, for code guesses, the fixed limiter) whose limit refused something."""
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def _known(value: str, allowed: tuple[str, ...]) -> str:
    return value if value in allowed else "other"


class Metrics:
    """The counters, histograms and gauges of one App, in a registry of its own.

    Every label value is known in advance and is set to zero at start, so each series exists
    from the first scrape (a rate over a series that appears later misses its first count).
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        counter = functools.partial(Counter, registry=self.registry)
        gauge = functools.partial(Gauge, registry=self.registry)
        self.updates = counter("passerelle_updates", "Updates handled, by kind", ["kind"])
        self.update_errors = counter("passerelle_update_errors", "Updates whose handler raised, by kind", ["kind"])
        self.handler_seconds = Histogram(
            "passerelle_handler_seconds",
            "Time to handle an update (state loaded and saved included), by kind",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.handoffs = counter("passerelle_handoffs", "Handoffs made (a ticket and its notice)")
        self.quick_exits = counter("passerelle_quick_exits", "Quick exits")
        self.limit_hits = counter("passerelle_limit_hits", "Requests refused by a limit, by limit", ["limit"])
        self.outbox_sent = counter("passerelle_outbox_sent", "Outbox messages delivered, by message kind", ["message"])
        by_class = ["message", "error_class"]
        self.outbox_failed = counter(
            "passerelle_outbox_failed", "Outbox sends that failed, by message kind and error class", by_class
        )
        self.outbox_given_up = counter(
            "passerelle_outbox_given_up", "Outbox messages given up, by message kind and error class", by_class
        )
        self.outbox_backlog = gauge("passerelle_outbox_backlog", "Outbox messages waiting, by status", ["status"])
        self.outbox_oldest_seconds = gauge(
            "passerelle_outbox_oldest_seconds", "Age of the oldest message waiting, by status (0 when none)", ["status"]
        )
        for kind in UPDATE_KINDS:
            self.updates.labels(kind)
            self.update_errors.labels(kind)
            self.handler_seconds.labels(kind)
        for name in LIMITS:
            self.limit_hits.labels(name)
        for message in MESSAGE_KINDS:
            self.outbox_sent.labels(message)
            for error in ERROR_CLASSES:
                self.outbox_failed.labels(message, error)
                self.outbox_given_up.labels(message, error)

    def limit_hit(self, name: str) -> None:
        self.limit_hits.labels(_known(name, LIMITS)).inc()

    def sent(self, message: str) -> None:
        self.outbox_sent.labels(_known(message, MESSAGE_KINDS)).inc()

    def failed(self, message: str, error: str) -> None:
        self.outbox_failed.labels(_known(message, MESSAGE_KINDS), _known(error, ERROR_CLASSES)).inc()

    def given_up(self, message: str, error: str) -> None:
        self.outbox_given_up.labels(_known(message, MESSAGE_KINDS), _known(error, ERROR_CLASSES)).inc()

    async def exposition(self, db: async_sessionmaker[AsyncSession]) -> bytes:
        """The text format, with the outbox gauges read now (left as they were if the
        database does not answer: /healthz reports that)."""
        try:
            async with db() as session:
                waiting = await backlog(session)
        except Exception as exc:  # noqa: BLE001  (the other metrics still serve)
            log.warning("metrics: could not read the outbox (%s)", type(exc).__name__)
        else:
            moment = now()
            for status in WAITING:
                count, oldest = waiting.get(status, (0, None))
                self.outbox_backlog.labels(status).set(count)
                self.outbox_oldest_seconds.labels(status).set(_age(moment, oldest))
        return generate_latest(self.registry)


def _age(moment: dt.datetime, oldest: dt.datetime | None) -> float:
    return max((moment - oldest).total_seconds(), 0.0) if oldest is not None else 0.0


def update_kind(event: TelegramObject) -> str:
    return _known(event.event_type, UPDATE_KINDS) if isinstance(event, Update) else "other"


class UpdateMetrics(BaseMiddleware):
    """Counts and times every update, private or not (an outer middleware on `dp.update`)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        kind = update_kind(event)
        started = time.perf_counter()
        try:
            return await handler(event, data)
        except BaseException:
            self.metrics.update_errors.labels(kind).inc()
            raise
        finally:
            self.metrics.handler_seconds.labels(kind).observe(time.perf_counter() - started)
            self.metrics.updates.labels(kind).inc()


def view(metrics: Metrics, db: async_sessionmaker[AsyncSession]) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The aiohttp handler of `GET /metrics`."""

    async def scrape(_request: web.Request) -> web.Response:
        body = await metrics.exposition(db)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})

    return scrape


@asynccontextmanager
async def serving(metrics: Metrics, db: async_sessionmaker[AsyncSession], port: int | None) -> AsyncIterator[None]:
    """When polling with METRICS_PORT set: /metrics on 127.0.0.1:METRICS_PORT, for the
    block's duration (loopback only: see docs/monitoring.md). Nothing when unset."""
    if port is None:
        yield
        return
    application = web.Application()
    application.router.add_get(METRICS_PATH, view(metrics, db))
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, "127.0.0.1", port).start()
        except OSError as exc:
            raise ConfigError(f"METRICS_PORT: cannot listen on 127.0.0.1:{port} ({exc.strerror})") from None
        log.info("metrics on 127.0.0.1:%d%s", port, METRICS_PATH)
        yield
    finally:
        await runner.cleanup()
