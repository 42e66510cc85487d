"""Delivers the outbox to association chats: each failure acted on by its class, paced, never lost in silence.

A row is claimed (with a lease, so a dead process's claim is taken over), sent, then
marked sent with Telegram's message id. Rows are written in the same transaction as the
ticket change that caused them, so nothing is lost between the two. A failure is classed
(bot.transport.failures) and acted on: a migrated group is followed at once, a gone chat makes its
association unreachable and its tickets pass on, a 429 is waited out without counting, an
outage is retried until OUTBOX_GIVE_UP_HOURS, and refused bytes are never sent again.
Whatever is given up passes its ticket on and raises an alert (bot.alerts).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections import deque
from typing import TYPE_CHECKING

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot import alerts, handoff, texts
from bot.callbacks import NoticeAction, NoticeButton
from bot.jobs import pass_on_stranded
from bot.transport.failures import Failure, Kind, classify
from dialogs.i18n import Translator
from storage.models import EnrolledChat, OutboxMessage, Ticket, now
from storage.outbox import (
    WAITING,
    cancel_chat,
    claim_due,
    defer,
    give_up,
    hold,
    mark_sent,
    move_chat,
    notices_this_hour,
    release,
    seconds_until_due,
)
from storage.tickets import OPEN_STATUSES, association_of_chat

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)
POLL_SECONDS = 5.0
SEND_TIMEOUT = 30
"""Seconds a send may take; the lease on a claimed row is longer (OUTBOX_LEASE_SECONDS)."""
MAX_BACKOFF = 600.0
PER_CHAT = (20, 60.0)
"""At most 20 messages a minute to one chat: Telegram's limit for a group."""
OVERALL_GAP = 1 / 30
"""At most 30 messages a second in all: Telegram's overall limit."""


def notice_buttons(ticket_id: int, tr: Translator) -> InlineKeyboardMarkup:
    _ = tr.gettext

    def button(action: NoticeAction, label: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(text=_(label), callback_data=NoticeButton(action=action, ticket=ticket_id).pack())

    return InlineKeyboardMarkup(
        inline_keyboard=[
            [button(NoticeAction.ACCEPT, texts.NOTICE_ACCEPT), button(NoticeAction.DECLINE, texts.NOTICE_DECLINE)],
            [button(NoticeAction.PASS_ON, texts.NOTICE_PASS), button(NoticeAction.REPLY, texts.NOTICE_REPLY)],
        ]
    )


def backoff(attempts: int) -> float:
    return min(MAX_BACKOFF, 2.0**attempts)


class Pacer:
    """Keeps this process within Telegram's limits, so that a 429 is the exception.

    Each process paces itself: several instances share the limits only through 429s,
    which are waited out and never count as failures.
    """

    def __init__(self) -> None:
        self._sent: dict[int, deque[float]] = {}
        self._last = float("-inf")

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    def wait(self, chat_id: int) -> float:
        """Seconds before `chat_id` may get another message (0: now)."""
        moment = self._now()
        sent = self._sent.get(chat_id)
        count, window = PER_CHAT
        while sent and sent[0] <= moment - window:
            sent.popleft()
        return max(sent[0] + window - moment, 0.0) if sent and len(sent) >= count else 0.0

    async def gap(self) -> None:
        """Sleep out the overall gap since the last send."""
        delay = self._last + OVERALL_GAP - self._now()
        if delay > 0:
            await asyncio.sleep(delay)
        self._last = self._now()

    def sent(self, chat_id: int) -> None:
        self._sent.setdefault(chat_id, deque()).append(self._now())


class OutboxSender:
    """One background task per process; `wake()` after writing to the outbox.

    It reads the runtime's catalogues and script at each send, so a new approval changes
    the notice buttons at once.
    """

    def __init__(self, bot: Bot, runtime: Runtime, *, lease: float) -> None:
        self.bot = bot
        self.runtime = runtime
        self.db = runtime.db
        self.lease = lease
        self.pacer = Pacer()
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
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), idle)
            self._wake.clear()

    async def _idle_time(self) -> float:
        """Sleep until the next retry is due, a wake-up, or the poll interval."""
        try:
            async with self.db() as session:
                due = await seconds_until_due(session)
        except Exception:  # noqa: BLE001  (a database hiccup: poll again, as the loop above does)
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

    async def _deliver(self, claimed: OutboxMessage) -> int:
        settings = self.runtime.settings
        async with self.db.begin() as session:
            # Read again: since the claim, its chat may have moved (a migration) or been canceled.
            row = await session.scalar(
                select(OutboxMessage).where(OutboxMessage.id == claimed.id, OutboxMessage.status.in_(WAITING))
            )
            if row is None:
                return 0
            limit = settings.notices_per_association_hour
            if row.kind == "notice" and not row.released and await notices_this_hour(session, row.chat_id) >= limit:
                self.runtime.metrics.limit_hit("notices_per_association_hour")
                if await hold(session, row):
                    slug = await _slug(session, row.chat_id) or "?"
                    alerts.queue_alert(session, settings, alerts.HELD.format(limit=limit, slug=slug))
                return 0
        wait = self.pacer.wait(row.chat_id)
        if wait > 0:
            async with self.db.begin() as session:
                await defer(session, row, wait, row.error_class or "paced", counts=False)
            return 0
        markup = None
        if row.buttons and row.ticket_id:
            markup = notice_buttons(row.ticket_id, self.runtime.catalogs.get(row.locale))
        await self.pacer.gap()
        try:
            message = await self.bot.send_message(
                chat_id=row.chat_id, text=row.text, reply_markup=markup, request_timeout=SEND_TIMEOUT
            )
        except (TelegramAPIError, OSError, TimeoutError) as exc:
            await self._failed(row, classify(exc))
            return 0
        self.pacer.sent(row.chat_id)
        self.runtime.metrics.sent(row.kind)
        async with self.db.begin() as session:
            await mark_sent(session, row, message.message_id)
        return 1

    async def _failed(self, row: OutboxMessage, failure: Failure) -> None:
        """Act on the failure's class (bot.transport.failures.Kind)."""
        log.warning("outbox message %d not delivered (%s)", row.id, failure.kind)
        self.runtime.metrics.failed(row.kind, failure.kind)
        if failure.kind is Kind.MIGRATED and failure.migrate_to is not None:
            async with self.db.begin() as session:
                followed = await _follow_migration(session, row.chat_id, failure.migrate_to)
                if followed:
                    await defer(session, row, 0, failure.kind, counts=False)
            if followed:
                self.wake()
            else:
                await self._gone(row)
        elif failure.kind is Kind.RATE_LIMITED:
            async with self.db.begin() as session:
                await defer(session, row, failure.retry_after, failure.kind, counts=False)
        elif failure.kind is Kind.TRANSIENT and not self._past_bound(row):
            async with self.db.begin() as session:
                await defer(session, row, backoff(row.attempts + 1), failure.kind, counts=True)
        elif failure.kind is Kind.GONE and row.kind != "alert":
            await self._gone(row)
        else:
            await self._give_up(row, failure.kind)

    def _past_bound(self, row: OutboxMessage) -> bool:
        bound = dt.timedelta(hours=self.runtime.settings.outbox_give_up_hours)
        return row.queued_at is not None and now() - row.queued_at > bound

    async def _gone(self, row: OutboxMessage) -> None:
        """The chat will take nothing more: its association is unreachable, what waited for
        it is canceled, its open tickets pass on at once, and the alert fires."""
        async with self.db.begin() as session:
            association = await association_of_chat(session, row.chat_id)
            if association is None:  # no longer anyone's chat: only this message is lost
                await self._give_up_in(session, row, Kind.GONE)
                return
            await cancel_chat(session, row.chat_id, Kind.GONE)
            if association.unreachable_since is None:  # alerted once, not once per message
                association.unreachable_since = now()
                text = alerts.UNREACHABLE.format(slug=association.slug, why=alerts.GONE_WHY)
                alerts.queue_alert(session, self.runtime.settings, text)
        self.runtime.directory.expire()  # closed for new requests now
        await pass_on_stranded(self.runtime)
        self.wake()

    async def _give_up(self, row: OutboxMessage, kind: Kind) -> None:
        async with self.db.begin() as session:
            await self._give_up_in(session, row, kind)
        self.wake()

    async def _give_up_in(self, session: AsyncSession, row: OutboxMessage, kind: Kind) -> None:
        """Blank the row, pass its ticket on if it was the notice, and alert (except for an
        alert itself: that is logged, and /healthz reports it)."""
        await give_up(session, row, kind)
        self.runtime.metrics.given_up(row.kind, kind)
        if row.kind == "alert":
            log.error("an alert was given up (%s): see `passerelle outbox list`", kind)
            return
        then = ""
        if row.kind == "notice" and row.ticket_id is not None:
            ticket = await session.get(Ticket, row.ticket_id, options=[selectinload(Ticket.association)])
            if ticket is not None and ticket.status in OPEN_STATUSES:
                moved = await handoff.reroute(session, ticket, self.runtime.engine, self.runtime.catalogs)
                then = alerts.PASSED_ON if moved else alerts.NOT_PASSED_ON
        why = {
            Kind.REFUSED: alerts.REFUSED,
            Kind.GONE: alerts.NO_CHAT,
        }.get(kind) or alerts.TIMED_OUT.format(hours=self.runtime.settings.outbox_give_up_hours)
        what = alerts.WHAT.get(row.kind, row.kind)
        slug = await _slug(session, row.chat_id) or "?"
        text = alerts.GIVEN_UP.format(what=what, ticket=row.ticket_id or "-", slug=slug, why=why, then=then)
        alerts.queue_alert(session, self.runtime.settings, text.strip())


async def _slug(session: AsyncSession, chat_id: int) -> str | None:
    association = await association_of_chat(session, chat_id)
    return association.slug if association else None


async def _follow_migration(session: AsyncSession, old_chat_id: int, new_chat_id: int) -> bool:
    """The group became a supergroup: its enrollment and everything waiting for it move there.

    False, and nothing moved, when the supergroup is already another association's chat
    (enrolled there since): the group's association then has no chat left, as if gone.
    """
    taken = await session.scalar(select(EnrolledChat.id).where(EnrolledChat.chat_id == new_chat_id))
    if taken is not None and await association_of_chat(session, old_chat_id) is not None:
        return False
    await session.execute(update(EnrolledChat).where(EnrolledChat.chat_id == old_chat_id).values(chat_id=new_chat_id))
    await move_chat(session, old_chat_id, new_chat_id)
    return True
