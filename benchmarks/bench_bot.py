"""The bot side of the benchmark, run in its own process: Passerelle, or a bare aiogram bot.

`python -m benchmarks.bench_bot passerelle|bare BASE_URL` polls the fake Bot API until SIGTERM.
On SIGUSR1 it prints one JSON line: how many conversations it holds and their stored size,
and the garbage collector's pauses since start-up or the last SIGUSR2.
With BENCH_PROFILE=FILE set, it writes a cProfile of the whole run there.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import sys
import tempfile
import time
from typing import TYPE_CHECKING

from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.transport.gc_tuning import settle_after_startup
from bot.transport.session import pin_response_models
from tests.support.fake_telegram.server import DEFAULT_TOKEN

if TYPE_CHECKING:
    from bot.state.pseudonym import PseudonymousMemoryStorage


def screen_like_ours() -> tuple[str, InlineKeyboardMarkup]:
    """A message the size of a Passerelle screen: the needs question and its nine buttons."""
    labels = [
        "Sortir de la prostitution",
        "Dormir en sécurité ce soir",
        "Me soigner",
        "Droits, papiers, séjour",
        "On me contrôle, on prend mon argent",
        "J'ai subi des violences",
        "Juste m'informer",
        "Valider",
    ]
    rows = [[InlineKeyboardButton(text=label, callback_data=f"0123abcd:t:needs:{n}")] for n, label in enumerate(labels)]
    rows.append(
        [
            InlineKeyboardButton(text=t, callback_data=d)
            for t, d in (("🆘 Urgence", "e"), ("🌐 Langue", "lang"), ("✖ Quitter", "x"))
        ]
    )
    text = "De quoi avez-vous besoin ?\nVous pouvez choisir plusieurs réponses, puis appuyer sur « Valider »."
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


async def bare(base_url: str, answer_callbacks: bool, screen: bool, lean: bool) -> None:
    """The floor: one handler that answers every update with one message.

    With `screen`, that message is as big as one of ours (text and keyboard), so the
    difference left is Passerelle's own work, not the size of what it shows. With `lean`,
    it talks to the Bot API through Passerelle's session (bot.transport.session) instead
    of aiogram's, so the difference left is not the HTTP client either.
    """
    router = Router()
    text, markup = screen_like_ours() if screen else ("ok", None)

    @router.message()
    async def on_message(message: Message, bot: Bot) -> None:
        await bot.send_message(message.chat.id, text, reply_markup=markup)

    @router.callback_query()
    async def on_callback(callback: CallbackQuery, bot: Bot) -> None:
        assert callback.message is not None
        await bot.send_message(callback.message.chat.id, text, reply_markup=markup)
        if answer_callbacks:
            await callback.answer()

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    api = TelegramAPIServer.from_base(base_url)
    if lean:
        from bot.transport.session import LeanSession

        session: AiohttpSession = LeanSession(api=api)
    else:
        session = AiohttpSession(api=api)
    bot = Bot(DEFAULT_TOKEN, session=session)
    # The same process conditions as Passerelle's (bot.app.App.create): aiogram's response
    # models held (else pydantic rebuilds them after each collection, ~10 ms each), and the
    # start-up objects frozen out of the collector. The floor is then aiogram at its best,
    # and the difference left is per-update work.
    pin_response_models()
    settle_after_startup()
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, report_state, None)
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR2, PAUSES.reset)
    await dispatcher.start_polling(bot)  # until SIGTERM, as in production


async def passerelle(base_url: str) -> None:
    # Imported here, so that the floors' peak memory is aiogram's, not aiogram's and ours.
    from bot.app import App
    from bot.config import load_settings
    from bot.state.pseudonym import PseudonymousMemoryStorage

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
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR2, PAUSES.reset)
        await app.run_polling()  # until SIGTERM, exactly as `passerelle run`
        await app.close()


def report_state(storage: PseudonymousMemoryStorage | None) -> None:
    """On SIGUSR1: the conversations held, their stored size and the collector's pauses, as one JSON line."""
    dump = storage.dump() if storage is not None else {}
    size = sum(len(name) + len(json.dumps(record["data"], separators=(",", ":"))) for name, record in dump.items())
    print(json.dumps({"conversations": len(dump), "state_bytes": size, **PAUSES.summary()}), flush=True)


class GcPauses:
    """How often the garbage collector stopped the bot, and for how long (gc.callbacks)."""

    def __init__(self) -> None:
        self.started = 0.0
        self.pauses: list[float] = []
        gc.callbacks.append(self.callback)

    def reset(self) -> None:
        """On SIGUSR2 (the driver, once warmed up): start counting afresh."""
        self.pauses = []

    def callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        else:
            self.pauses.append(time.perf_counter() - self.started)

    def summary(self) -> dict[str, float]:
        over = [p for p in self.pauses if p > 0.002]
        return {"gc_runs": len(self.pauses), "gc_over_2ms": len(over), "gc_max_ms": 1000 * max(self.pauses, default=0)}


PAUSES = GcPauses()


def main() -> None:
    mode, base_url = sys.argv[1], sys.argv[2]
    run = (
        passerelle(base_url)
        if mode == "passerelle"
        else bare(
            base_url,
            answer_callbacks=mode != "bare",
            screen=mode in ("bare+screen", "lean+screen"),
            lean=mode == "lean+screen",
        )
    )
    profile_to = os.environ.get("BENCH_PROFILE")
    if not profile_to:
        asyncio.run(run)
        return
    import cProfile

    cProfile.runctx("asyncio.run(run)", globals(), {"run": run, "asyncio": asyncio}, profile_to)


if __name__ == "__main__":
    main()
