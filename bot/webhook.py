"""Webhook mode: Telegram posts each update to an aiohttp server behind a reverse proxy.

`passerelle run --webhook` (or WEBHOOK_URL set) serves, on WEBHOOK_HOST:WEBHOOK_PORT:

- `POST <WEBHOOK_URL's path>`: the updates. A request without the right
  `X-Telegram-Bot-Api-Secret-Token` gets 401 before its body is read.
- `GET /metrics`: the Prometheus metrics (bot.metrics); the proxy must not pass it on.
- `GET /healthz`: `{"status", "database", "redis", "outbox"}`: database and redis "ok" or
  "down" (redis only when REDIS_URL is set), 503 when one is down; outbox "ok" or
  "degraded" (a message waiting longer than OUTBOX_DEGRADED_MINUTES, or one given up in
  the last 24 hours), then status "degraded" with 200: this instance serves, and a restart
  would deliver nothing (the alerts say what to do). Nothing else: no error text, no
  address, no id.

At start the webhook is set with the update types the handlers use and the secret token;
at stop it is left in place (other instances behind the same proxy keep serving). SIGTERM
or SIGINT stops accepting, lets the updates in flight finish, then stops the outbox sender
and the timers; `bot.serve.run` closes the sessions.

The access log gives the method, the path and the status, never a query string, an
address or a header.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import signal
from collections.abc import Awaitable
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramRetryAfter
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.methods import TelegramMethod
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from sqlalchemy import text

from bot import metrics
from bot.app import App
from bot.config import HEALTH_PATH, METRICS_PATH, ConfigError
from bot.transport.session import lighten_update
from storage.outbox import health as outbox_health

log = logging.getLogger(__name__)
access_log = logging.getLogger("bot.webhook.access")

SHUTDOWN_SECONDS = 30.0
"""How long the updates in flight may take to finish at shutdown (Telegram waits about 60 s
for an answer, and redelivers an update that was not answered)."""
HEALTH_SECONDS = 3.0
"""A check that takes longer counts as down."""
SET_WEBHOOK_ATTEMPTS = 5


class AccessLog(AbstractAccessLogger):
    """Method, path and status: no query string, no client address, no header."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        level = logging.DEBUG if response.status < 400 else logging.WARNING
        self.logger.log(level, "%s %s %d %.0f ms", request.method, request.path, response.status, time * 1000)


class UpdateHandler(SimpleRequestHandler):
    """aiogram's handler, with each update lightened before parsing, as a polled one is."""

    async def _handle_request(self, bot: Bot, request: web.Request) -> web.Response:
        update = lighten_update(await request.json(loads=bot.session.json_loads))
        result: TelegramMethod[Any] | None = await self.dispatcher.feed_webhook_update(bot, update, **self.data)
        return web.Response(body=self._build_response_writer(bot=bot, result=result))


class WebhookServer:
    """The aiohttp server of one instance; `run()` serves until `stop()` or a signal.

    Updates are handled with `SimpleRequestHandler(handle_in_background=False)`: Telegram
    gets its 200 only once the handler has finished, its state saved and its ticket and
    outbox rows committed. An update whose process dies (kill -9, OOM, a deploy that
    outlived the shutdown delay) before that point was never answered, so Telegram delivers
    it again, to this instance after a restart or to another one behind the proxy: nothing
    is lost. A handler that raises is logged and apologised for by the error handler
    (bot.handlers.private.on_error), then answered 200: Telegram does not send it again. With
    `handle_in_background=True` the 200 would leave before the work is done, and an update
    in flight would vanish with the process; aiohttp's graceful shutdown could not wait for
    it either, since it waits for requests, not for detached tasks. The cost is one open
    connection per update in flight (Telegram opens up to 40), and aiogram still moves a
    handler slower than 55 s to the background rather than let Telegram time out.
    """

    def __init__(self, app: App, *, shutdown_seconds: float = SHUTDOWN_SECONDS) -> None:
        settings = app.settings
        self.app = app
        self.secret_token = settings.require_webhook()
        self.shutdown_seconds = shutdown_seconds
        self.handler = UpdateHandler(
            app.dispatcher, app.bot, handle_in_background=False, secret_token=self.secret_token
        )
        self.web = web.Application()
        # Not handler.register(): that would close the bot's session in on_shutdown, which
        # aiohttp runs before the updates in flight have finished. bot.serve.run closes it last.
        self.web.router.add_post(settings.webhook_path, self.handler.handle)
        self.web.router.add_get(HEALTH_PATH, self.health)
        self.web.router.add_get(METRICS_PATH, metrics.view(app.runtime.metrics, app.runtime.db))
        before = len(self.web.on_shutdown)
        setup_application(self.web, app.dispatcher, bot=app.bot)
        # aiohttp runs on_shutdown *before* it waits for the requests in flight, and
        # aiogram's shutdown closes the FSM storage and the event isolation they still
        # hold: run it on cleanup instead, once they have finished.
        moved = list(self.web.on_shutdown[before:])
        del self.web.on_shutdown[before:]
        self.web.on_cleanup.extend(moved)
        self.ready = asyncio.Event()
        self.port: int | None = None
        self._stop = asyncio.Event()
        self._down: set[str] = set()

    def stop(self) -> None:
        """What SIGTERM does: stop accepting, finish what is in flight, stop."""
        self._stop.set()

    async def run(self, *, handle_signals: bool = True, maintenance_every: float | None = None) -> None:
        settings = self.app.settings
        loop = asyncio.get_running_loop()
        async with self.app.background(maintenance_every):
            runner = web.AppRunner(
                self.web, access_log_class=AccessLog, access_log=access_log, shutdown_timeout=self.shutdown_seconds
            )
            await runner.setup()
            try:
                site = web.TCPSite(runner, settings.webhook_host, settings.webhook_port)
                await site.start()
                self.port = site.port
                await self._set_webhook()
                if handle_signals:
                    for sig in (signal.SIGTERM, signal.SIGINT):
                        loop.add_signal_handler(sig, self.stop)
                log.info("webhook set; serving on %s:%d", settings.webhook_host, self.port)
                self.ready.set()
                await self._stop.wait()
                log.info("stopping: finishing the updates in flight")
            finally:
                if handle_signals:
                    for sig in (signal.SIGTERM, signal.SIGINT):
                        loop.remove_signal_handler(sig)
                await runner.cleanup()  # stop listening, wait for the requests in flight
        log.info("stopped")

    async def _set_webhook(self) -> None:
        """Set (or set again, as each instance does at start) the webhook; never delete it."""
        for attempt in range(1, SET_WEBHOOK_ATTEMPTS + 1):
            try:
                await self.app.bot.set_webhook(
                    url=str(self.app.settings.webhook_url),
                    secret_token=self.secret_token,
                    allowed_updates=self.app.dispatcher.resolve_used_update_types(),
                    drop_pending_updates=False,
                )
                return
            except TelegramRetryAfter as exc:  # several instances starting at once
                if attempt == SET_WEBHOOK_ATTEMPTS:
                    raise
                await asyncio.sleep(exc.retry_after)
            except TelegramBadRequest as exc:
                raise ConfigError(f"WEBHOOK_URL was refused by Telegram: {exc.message}") from None

    async def health(self, _request: web.Request) -> web.Response:
        checks: dict[str, Awaitable[object]] = {"database": self._database()}
        redis = self._redis()
        if redis is not None:
            checks["redis"] = redis
        results = await asyncio.gather(*(self._check(name, check) for name, check in checks.items()))
        report = dict(zip(checks, ("ok" if up else "down" for up in results), strict=True))
        report["outbox"] = await self._outbox() if results[0] else "down"
        up = all(results)
        status = "down" if not up else "degraded" if report["outbox"] == "degraded" else "ok"
        return web.json_response(
            {"status": status, **report},
            status=200 if up else 503,
            headers={"Cache-Control": "no-store"},
        )

    async def _outbox(self) -> str:
        bound = dt.timedelta(minutes=self.app.settings.outbox_degraded_minutes)
        try:
            async with self.app.runtime.db() as session:
                return await asyncio.wait_for(outbox_health(session, bound), HEALTH_SECONDS)
        except Exception:  # noqa: BLE001  (the database check reports the cause)
            return "down"

    async def _check(self, name: str, check: Awaitable[object]) -> bool:
        try:
            await asyncio.wait_for(check, HEALTH_SECONDS)
        except Exception as exc:  # noqa: BLE001  (down, whatever the reason)
            if name not in self._down:
                log.warning("health check: %s is down (%s)", name, type(exc).__name__)
            self._down.add(name)
            return False
        if name in self._down:
            log.info("health check: %s is up again", name)
            self._down.discard(name)
        return True

    async def _database(self) -> None:
        async with self.app.database.connect() as connection:
            await connection.execute(text("SELECT 1"))

    def _redis(self) -> Awaitable[object] | None:
        storage = self.app.dispatcher.storage
        return storage.redis.ping() if isinstance(storage, RedisStorage) else None


async def run_webhook(app: App) -> None:
    """`passerelle run` in webhook mode, until SIGTERM or SIGINT."""
    await WebhookServer(app).run()
