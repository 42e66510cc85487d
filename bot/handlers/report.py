"""Moderators in Telegram: /report sends last month's and this month's charts for the whole
network, suppressed as in `passerelle report`. Only for MODERATOR_IDS, in private.

Anyone else sending /report gets what any unknown command gets, from the private router.
Charts are drawn in a worker thread: people's turns never wait for matplotlib.
"""

from __future__ import annotations

import asyncio

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, Message

from bot import report
from bot.filters import OnLoop
from bot.runtime import Runtime
from storage import stats


def build_router(moderator_ids: tuple[int, ...]) -> Router:
    router = Router(name="report")
    router.message.filter(OnLoop(F.chat.type == ChatType.PRIVATE), OnLoop(F.from_user.id.in_(set(moderator_ids))))
    router.message.register(send_report, Command("report"))
    return router


async def send_report(message: Message, runtime: Runtime, bot: Bot) -> None:
    this_month = stats.current_month()
    for month in (stats.months_back(this_month, 2), this_month):
        made = await report.gather(runtime.db, month, month, runtime.settings.stats_min_count)
        images = await asyncio.to_thread(report.charts, made)
        for name, png in images.items():
            if name == "carte_couverture" and month != this_month:
                continue  # the directory as it is today: shown once
            title = report.CHART_TITLES.get(name) or made.table(name).title
            await bot.send_photo(
                message.chat.id, BufferedInputFile(png, f"{name}-{month}.png"), caption=f"{title} — {month}"
            )
