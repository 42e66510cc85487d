"""Start-up: build the bot, the dispatcher and its runtime, then poll (or serve a webhook: bot.webhook)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError, TelegramNotFound, TelegramUnauthorizedError
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.types import BotCommand, BotCommandScopeAllPrivateChats
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import stats, texts
from bot.config import ConfigError, Settings
from bot.handlers import association, moderator, private, report, team
from bot.jobs import maintenance
from bot.metrics import UpdateMetrics, serving
from bot.middlewares import TurnMiddleware
from bot.moderation import latest_event, load_approved, load_files
from bot.outbox import OutboxSender
from bot.runtime import Runtime
from bot.state.limits import HANDOFF_WINDOW, RELAY_WINDOW, MemoryQuota
from bot.state.pseudonym import PseudonymEventIsolation, PseudonymKeyBuilder, PseudonymousMemoryStorage
from bot.transport.gc_tuning import settle_after_startup
from bot.transport.session import LeanSession, pin_response_models
from dialogs.languages import telegram_language
from storage.db import create_engine, ensure_schema, sessions

log = logging.getLogger(__name__)
APPROVAL_POLL_SECONDS = 15.0
"""How soon a running bot serves an approval made from the command line."""
COMMANDS = (
    ("start", texts.CMD_START),
    ("language", texts.CMD_LANGUAGE),
    ("help", texts.CMD_HELP),
    ("exit", texts.CMD_EXIT),
    ("forget", texts.CMD_FORGET),
)


async def build_runtime(settings: Settings, database: AsyncEngine) -> tuple[Runtime, int]:
    """The approved script and catalogues (compiled in memory: never a stale .mo)."""
    db = sessions(database)
    content = await load_approved(db) if settings.require_approval else load_files()
    if not settings.require_approval:
        log.warning("REQUIRE_APPROVAL=false: serving unreviewed files; never do this in production")
    return Runtime(settings=settings, catalogs=content.catalogs, script=content.script, db=db), content.event_id


def build_bot(settings: Settings) -> Bot:
    api = TelegramAPIServer.from_base(settings.bot_api_url) if settings.bot_api_url else None
    session = LeanSession(api=api) if api else LeanSession()
    default = DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True)
    return Bot(settings.require_token(), session=session, default=default)


def build_dispatcher(runtime: Runtime) -> Dispatcher:
    settings = runtime.settings
    if settings.secret_is_ephemeral:
        log.warning("PASSERELLE_SECRET is not set: using a random one; conversations will not survive a restart")
    keys = PseudonymKeyBuilder(settings.secret_key())
    storage: BaseStorage
    isolation: BaseEventIsolation
    if settings.redis_url:
        # Shared by every instance; keys are HMAC pseudonyms, and idle state expires.
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import ExponentialBackoff
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        from bot.state.limits import RedisGuessLimiter, RedisQuota
        from bot.state.redis_storage import DataOnlyRedisStorage

        # A restarted Redis drops every connection: reconnect and retry instead of failing a turn.
        redis = Redis.from_url(
            settings.redis_url,
            retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=5),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
            health_check_interval=30,
        )
        storage = DataOnlyRedisStorage(
            redis, key_builder=keys, state_ttl=settings.state_ttl, data_ttl=settings.state_ttl
        )
        isolation = storage.create_isolation()
        runtime.limiter = RedisGuessLimiter(redis)
        runtime.handoff_quota = RedisQuota(redis, "handoff", settings.handoffs_per_day, HANDOFF_WINDOW)
        runtime.relay_quota = RedisQuota(redis, "relay", settings.relays_per_hour, RELAY_WINDOW)
    else:
        storage = PseudonymousMemoryStorage(keys, ttl=settings.state_ttl)
        isolation = PseudonymEventIsolation(keys)
        runtime.handoff_quota = MemoryQuota(settings.handoffs_per_day, HANDOFF_WINDOW)
        runtime.relay_quota = MemoryQuota(settings.relays_per_hour, RELAY_WINDOW)
    dispatcher = Dispatcher(storage=storage, events_isolation=isolation, runtime=runtime)
    dispatcher.update.outer_middleware(UpdateMetrics(runtime.metrics))
    dispatcher.update.outer_middleware(TurnMiddleware(runtime))
    dispatcher.include_router(report.build_router(settings.moderator_ids))
    dispatcher.include_routers(
        moderator.build_router(), association.build_router(), team.build_router(), private.build_router()
    )
    return dispatcher


async def check_telegram(bot: Bot, settings: Settings) -> None:
    """Before serving: the token is accepted and the Bot API answers, or one line says what to fix."""
    try:
        await bot.get_me()
    except TelegramUnauthorizedError:
        raise ConfigError(
            "BOT_TOKEN was refused by the Bot API (Unauthorized): copy it again from @BotFather"
        ) from None
    except (TelegramNetworkError, TelegramNotFound) as exc:
        if settings.bot_api_url:
            raise ConfigError(
                f"BOT_API_URL: {settings.bot_api_url} did not answer as a Bot API server ({exc.message}): "
                "check it and the network"
            ) from None
        raise ConfigError(f"cannot reach Telegram's Bot API ({exc.message}): check this machine's network") from None
    except TelegramAPIError as exc:
        raise ConfigError(f"the Bot API refused getMe ({exc.message}): try again later") from None


async def set_menus(bot: Bot, runtime: Runtime) -> None:
    """Command menu, description and short description in every language Telegram can name.

    The ones without a language code are the defaults, in DEFAULT_LOCALE.
    """
    scope = BotCommandScopeAllPrivateChats()
    default = runtime.catalogs.get(runtime.settings.default_locale)
    languages = [(None, default)] + [
        (code, runtime.catalogs.get(locale))
        for locale in runtime.catalogs.locales
        if (code := telegram_language(locale)) is not None
    ]
    for code, tr in languages:
        commands = [BotCommand(command=c, description=tr.gettext(d)) for c, d in COMMANDS]
        await bot.set_my_commands(commands, scope=scope, language_code=code)
        await bot.set_my_description(description=tr.gettext(texts.DESCRIPTION), language_code=code)
        await bot.set_my_short_description(short_description=tr.gettext(texts.SHORT_DESCRIPTION), language_code=code)


@dataclass
class App:
    """Everything `passerelle run` starts, as one object that tests can start and stop."""

    settings: Settings
    runtime: Runtime
    bot: Bot
    dispatcher: Dispatcher
    database: AsyncEngine
    sender: OutboxSender
    approvals_seen: int = 0
    """The latest moderation event served; a newer one makes the bot reload."""

    @classmethod
    async def create(cls, settings: Settings) -> App:
        pin_response_models()
        database = create_engine(settings.database_url)
        await ensure_schema(database)
        runtime, event_id = await build_runtime(settings, database)
        bot = build_bot(settings)
        sender = OutboxSender(bot, runtime, lease=settings.outbox_lease_seconds)
        runtime.wake_sender = sender.wake
        app = cls(settings, runtime, bot, build_dispatcher(runtime), database, sender, event_id)
        runtime.reload_approved = app.reload_if_approved
        settle_after_startup()
        return app

    async def run_polling(
        self, *, handle_as_tasks: bool = True, handle_signals: bool = True, maintenance_every: float | None = None
    ) -> None:
        """Set the menus, start the outbox, the timers (and /metrics on METRICS_PORT), then poll until stopped."""
        metrics = serving(self.runtime.metrics, self.runtime.db, self.settings.metrics_port)
        async with self.background(maintenance_every), metrics:
            await self.dispatcher.start_polling(
                self.bot,
                handle_as_tasks=handle_as_tasks,
                allowed_updates=self.dispatcher.resolve_used_update_types(),
                handle_signals=handle_signals,
                close_bot_session=False,
            )

    @asynccontextmanager
    async def background(self, maintenance_every: float | None = None) -> AsyncIterator[None]:
        """What runs beside the updates, polling or webhook: the menus are set, the outbox
        sender and the timers run inside this block, and are stopped cleanly on the way out."""
        await check_telegram(self.bot, self.settings)
        try:
            await set_menus(self.bot, self.runtime)
        except TelegramAPIError as exc:  # cosmetic: the conversation works without them
            log.warning(
                "could not set the command menus (%s); they are set again at the next approval", type(exc).__name__
            )
        self.sender.start()
        timers = [
            asyncio.create_task(maintenance(self.runtime, self.bot, maintenance_every or 600.0), name="maintenance"),
            asyncio.create_task(self.follow_approvals(), name="approvals"),
        ]
        try:
            yield
        finally:
            for timer in timers:
                timer.cancel()
            await asyncio.gather(*timers, return_exceptions=True)  # nothing left half-done on the database
            await self.sender.stop()
            await self.runtime.erasures.stop()

    async def reload_if_approved(self) -> bool:
        """Serve a newer approval or rollback, made here or by another process."""
        if not self.settings.require_approval:
            return False
        latest = await latest_event(self.runtime.db)
        if latest == self.approvals_seen:
            return False
        content = await load_approved(self.runtime.db)
        self.runtime.serve(content.script, content.catalogs)
        self.approvals_seen = content.event_id
        log.info("now serving approved version %s", content.script.version)
        await set_menus(self.bot, self.runtime)
        return True

    async def follow_approvals(self, every: float = APPROVAL_POLL_SECONDS) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await self.reload_if_approved()
            except Exception as exc:  # noqa: BLE001  (keep serving the last approved version)
                log.error("could not load the latest approval: %s", type(exc).__name__)

    async def stop(self) -> None:
        with contextlib.suppress(RuntimeError):  # it was not polling
            await self.dispatcher.stop_polling()

    async def close(self) -> None:
        await stats.settle()
        await self.bot.session.close()
        await self.dispatcher.storage.close()
        await self.database.dispose()
