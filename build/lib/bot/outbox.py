"""Delivers the outbox to association chats: retries with backoff, honours 429, survives restarts.

A row is claimed (with a lease, so a dead process's claim is taken over), sent, then
marked sent with Telegram's message id. Rows are written in the same transaction as the
ticket change that caused them, so nothing is lost between the two.
"""

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
)
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from dialogs.i18n import Catalogs, Translator
from storage.models import OutboxMessage
from storage.outbox import claim_due, mark_retry, mark_sent, seconds_until_due

log = logging.getLogger(__name__)
POLL_SECONDS = 5.0
MAX_BACKOFF = 600.0
UNREACHABLE_BACKOFF = 600.0
"""A chat that refuses us (bot removed, chat gone) is retried rarely: staff must re-enroll."""


def notice_buttons(ticket_id: int, tr: Translator) -> InlineKeyboardMarkup:
    _ = tr.gettext
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=_(texts.NOTICE_ACCEPT), callback_data=f"t:a:{ticket_id}"),
                InlineKeyboardButton(text=_(texts.NOTICE_DECLINE), callback_data=f"t:d:{ticket_id}"),
            ],
            [
                InlineKeyboardButton(text=_(texts.NOTICE_PASS), callback_data=f"t:p:{ticket_id}"),
                InlineKeyboardButton(text=_(texts.NOTICE_REPLY), callback_data=f"t:r:{ticket_id}"),
            ],
        ]
    )


def backoff(attempts: int) -> float:
    return min(MAX_BACKOFF, 2.0 ** attempts)


class OutboxSender:
    """One background task per process; `wake()` after writing to the outbox."""

    def __init__(self, bot: Bot, db: async_sessionmaker[AsyncSession], catalogs: Catalogs) -> None:
        self.bot = bot
        self.db = db
        self.catalogs = catalogs
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox")

    async def stop(self) -> None:
        """Finish the message in flight, then stop."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.drain()
            except Exception as exc:  # noqa: BLE001  (a database hiccup must not end the sender)
                log.error("outbox pass failed: %s", type(exc).__name__)
                sent = 0
            if sent:
                continue
            idle = await self._idle_time()
            try:
                await asyncio.wait_for(self._wake.wait(), idle)
            except TimeoutError:
                pass
            self._wake.clear()

    async def _idle_time(self) -> float:
        """Sleep until the next retry is due, a wake-up, or the poll interval."""
        try:
            async with self.db() as session:
                due = await seconds_until_due(session)
        except Exception:  # noqa: BLE001
            return POLL_SECONDS
        return POLL_SECONDS if due is None else min(POLL_SECONDS, max(due, 0.05))

    async def drain(self) -> int:
        """Send every due message once; returns how many were delivered."""
        async with self.db.begin() as session:
            rows = await claim_due(session)
        delivered = 0
        for row in rows:
            delivered += await self._deliver(row)
        return delivered

    async def _deliver(self, row: OutboxMessage) -> int:
        markup = notice_buttons(row.ticket_id, self.catalogs.get(row.locale)) if row.buttons and row.ticket_id else None
        try:
            message = await self.bot.send_message(chat_id=row.chat_id, text=row.text, reply_markup=markup)
        except TelegramRetryAfter as exc:
            await self._retry(row, float(exc.retry_after), "rate limited")
            return 0
        except (TelegramForbiddenError, TelegramBadRequest) as exc:
            await self._retry(row, UNREACHABLE_BACKOFF, type(exc).__name__)
            return 0
        except (TelegramNetworkError, TelegramAPIError) as exc:
            await self._retry(row, backoff(row.attempts + 1), type(exc).__name__)
            return 0
        async with self.db.begin() as session:
            await mark_sent(session, row.id, message.message_id)
        return 1

    async def _retry(self, row: OutboxMessage, delay: float, why: str) -> None:
        log.warning("outbox message %d not delivered (%s); retry in %.0f s", row.id, why, delay)
        async with self.db.begin() as session:
            await mark_retry(session, row.id, delay, row.attempts + 1)
