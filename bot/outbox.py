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
from storage.outbox import claim_due, mark_retry, mark_sent, release, seconds_until_due

log = logging.getLogger(__name__)
POLL_SECONDS = 5.0
SEND_TIMEOUT = 30
"""Seconds a send may take; the lease on a claimed row is longer (OUTBOX_LEASE_SECONDS)."""
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

    def __init__(self, bot: Bot, db: async_sessionmaker[AsyncSession], catalogs: Catalogs, *, lease: float) -> None:
        self.bot = bot
        self.db = db
        self.catalogs = catalogs
        self.lease = lease
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="outbox")

    async def stop(self) -> None:
        """Finish the message in flight, hand back the other claimed ones, then stop.

        Cancelling a send midway would leave Telegram's answer unknown, and the message
        sent again by whoever takes the claim over: a duplicate notice.
        """
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), SEND_TIMEOUT + 5)
        except TimeoutError:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        while not self._stopping:
            try:
                sent = await self.drain()
            except Exception as exc:  # noqa: BLE001  (a database hiccup must not end the sender)
                log.error("outbox pass failed: %s", type(exc).__name__)
                sent = 0
            if sent or self._stopping:
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
            rows = await claim_due(session, lease=self.lease)
        delivered = 0
        for done, row in enumerate(rows):
            if self._stopping:
                async with self.db.begin() as session:
                    await release(session, [r.id for r in rows[done:]])
                break
            delivered += await self._deliver(row)
        return delivered

    async def _deliver(self, row: OutboxMessage) -> int:
        markup = notice_buttons(row.ticket_id, self.catalogs.get(row.locale)) if row.buttons and row.ticket_id else None
        try:
            message = await self.bot.send_message(
                chat_id=row.chat_id, text=row.text, reply_markup=markup, request_timeout=SEND_TIMEOUT
            )
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
