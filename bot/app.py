"""Start-up: build the bot, the dispatcher and its runtime, then poll."""

from __future__ import annotations

import asyncio
import gc
import logging
from dataclasses import dataclass

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.types import BotCommand, BotCommandScopeAllPrivateChats

from bot import texts
from bot.config import Settings
from bot.conversation import Runtime
from bot.handlers import association, private
from bot.jobs import maintenance
from bot.outbox import OutboxSender
from bot.middlewares import TurnMiddleware
from bot.telegram_session import LeanAiohttpSession, pin_response_models
from bot.pseudonym import PseudonymEventIsolation, PseudonymKeyBuilder, PseudonymousMemoryStorage
from dialogs.i18n import Catalogs
from dialogs.languages import telegram_language
from dialogs.loader import ORIENTATION, load_script
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine, ensure_schema, sessions

log = logging.getLogger(__name__)
COMMANDS = (
    ("start", texts.CMD_START),
    ("language", texts.CMD_LANGUAGE),
    ("help", texts.CMD_HELP),
    ("exit", texts.CMD_EXIT),
    ("forget", texts.CMD_FORGET),
)


def build_runtime(settings: Settings, database: AsyncEngine) -> Runtime:
    """Load the script and every catalogue (compiled in memory: never a stale .mo)."""
    script = load_script(ORIENTATION)
    return Runtime(settings=settings, catalogs=Catalogs(), script=script, db=sessions(database))


def build_bot(settings: Settings) -> Bot:
    api = TelegramAPIServer.from_base(settings.bot_api_url) if settings.bot_api_url else None
    session = LeanAiohttpSession(api=api) if api else LeanAiohttpSession()
    default = DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True)
    return Bot(settings.require_token(), session=session, default=default)


def build_dispatcher(runtime: Runtime) -> Dispatcher:
    settings = runtime.settings
    if settings.secret_is_ephemeral:
        log.warning("PASSERELLE_SECRET is not set: using a random one; conversations will not survive a restart")
    keys = PseudonymKeyBuilder(settings.secret_key())
    storage = PseudonymousMemoryStorage(keys, ttl=settings.state_ttl)
    dispatcher = Dispatcher(storage=storage, events_isolation=PseudonymEventIsolation(keys), runtime=runtime)
    dispatcher.update.outer_middleware(TurnMiddleware(runtime))
    dispatcher.include_routers(association.build_router(), private.build_router())
    return dispatcher


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

    @classmethod
    async def create(cls, settings: Settings) -> App:
        pin_response_models()
        database = create_engine(settings.database_url)
        await ensure_schema(database)
        runtime = build_runtime(settings, database)
        bot = build_bot(settings)
        sender = OutboxSender(bot, runtime.db, runtime.catalogs)
        runtime.wake_sender = sender.wake
        app = cls(settings, runtime, bot, build_dispatcher(runtime), database, sender)
        # Everything built so far lives as long as the process: keep it out of the
        # garbage collector's full passes, which otherwise stall every update for tens of ms.
        gc.freeze()
        return app

    async def run_polling(
        self, *, handle_as_tasks: bool = True, handle_signals: bool = True, maintenance_every: float | None = None
    ) -> None:
        """Set the menus, start the outbox and the timers, then poll until stopped."""
        await set_menus(self.bot, self.runtime)
        self.sender.start()
        timers = asyncio.create_task(maintenance(self.runtime, maintenance_every or 600.0), name="maintenance")
        try:
            await self.dispatcher.start_polling(
                self.bot,
                handle_as_tasks=handle_as_tasks,
                allowed_updates=self.dispatcher.resolve_used_update_types(),
                handle_signals=handle_signals,
                close_bot_session=False,
            )
        finally:
            timers.cancel()
            await self.sender.stop()

    async def stop(self) -> None:
        try:
            await self.dispatcher.stop_polling()
        except RuntimeError:
            pass  # it was not polling

    async def close(self) -> None:
        await self.bot.session.close()
        await self.dispatcher.storage.close()
        await self.database.dispose()


async def run(settings: Settings) -> None:
    """`passerelle run`."""
    app = await App.create(settings)
    try:
        await app.run_polling()
    finally:
        await app.close()
