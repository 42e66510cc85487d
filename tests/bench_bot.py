"""The bot side of the benchmark, run in its own process: Passerelle, or a bare aiogram bot.

`python -m tests.bench_bot passerelle|bare BASE_URL` polls the fake Bot API until SIGTERM.
On SIGUSR1 it prints one JSON line: how many conversations it holds and their stored size.
With BENCH_PROFILE=FILE set, it writes a cProfile of the whole run there.
"""

from __future__ import annotations

import asyncio
import os
import signal
import json
import sys
import tempfile

from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, Message

from bot.app import App
from bot.config import load_settings
from bot.pseudonym import PseudonymousMemoryStorage
from tests.fake_telegram import DEFAULT_TOKEN


async def bare(base_url: str, answer_callbacks: bool) -> None:
    """The floor: one handler that answers every update with one message."""
    router = Router()

    @router.message()
    async def on_message(message: Message, bot: Bot) -> None:
        await bot.send_message(message.chat.id, "ok")

    @router.callback_query()
    async def on_callback(callback: CallbackQuery, bot: Bot) -> None:
        assert callback.message is not None
        await bot.send_message(callback.message.chat.id, "ok")
        if answer_callbacks:
            await callback.answer()

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    bot = Bot(DEFAULT_TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)))
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, print, json.dumps({"conversations": 0}))
    await dispatcher.start_polling(bot)  # until SIGTERM, as in production


async def passerelle(base_url: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(
            bot_token=DEFAULT_TOKEN,
            bot_api_url=base_url,
            database_url=f"sqlite+aiosqlite:///{folder}/bench.sqlite3",
            passerelle_secret="bench-" + "0" * 32,
        )
        app = await App.create(settings)
        storage = app.dispatcher.storage
        assert isinstance(storage, PseudonymousMemoryStorage)
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, report_state, storage)
        await app.run_polling()  # until SIGTERM, exactly as `passerelle run`
        await app.close()


def report_state(storage: PseudonymousMemoryStorage) -> None:
    """On SIGUSR1: the conversations held and their stored size, as one JSON line."""
    dump = storage.dump()
    size = sum(len(name) + len(json.dumps(record["data"], separators=(",", ":"))) for name, record in dump.items())
    print(json.dumps({"conversations": len(dump), "state_bytes": size}), flush=True)


def main() -> None:
    mode, base_url = sys.argv[1], sys.argv[2]
    run = passerelle(base_url) if mode == "passerelle" else bare(base_url, answer_callbacks=mode == "bare+answer")
    profile_to = os.environ.get("BENCH_PROFILE")
    if not profile_to:
        asyncio.run(run)
        return
    import cProfile

    cProfile.runctx("asyncio.run(run)", globals(), {"run": run, "asyncio": asyncio}, profile_to)


if __name__ == "__main__":
    main()
