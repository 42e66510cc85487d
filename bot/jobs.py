"""Periodic work inside the bot process: remind associations of notices not yet accepted,
pass on those nobody accepted in time or nobody can receive, purge old tickets, clear
from association chats what the bot sent about tickets now deleted, and warn of
accreditations about to end (30 and 7 days before).

`passerelle purge` runs the same purge from the command line; the running bot then
clears the chats at its next run. Several instances may run these together: each ticket
and each message is claimed by one of them (see `storage.tickets.claim_overdue`,
`storage.tickets.stranded` and `storage.routing.claim_orphans`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from contextlib import suppress
from html import escape

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest

from bot import alerts, handoff, texts
from bot.runtime import Runtime
from bot.transport.failures import Kind, classify
from storage.coverage import warnings_due
from storage.directory.nearest import load_candidates
from storage.models import GroupMessage, OutboxMessage, hour
from storage.routing import claim_orphans, forget, release
from storage.tickets import claim_overdue, due_reminders, overdue, purge, queue, reference, stranded

log = logging.getLogger(__name__)
EVERY_SECONDS = 600.0
"""Ten minutes: pass-on deadlines are counted in hours, retention in days."""
DELETE_HOURS = 47
"""Telegram lets a bot delete its messages for 48 hours; times are kept to the hour."""


async def pass_on_overdue(runtime: Runtime) -> int:
    """Pass on each ticket not accepted in time, each in its own transaction that first
    claims it; the directory is read once for the whole run."""
    hours = runtime.settings.handoff_accept_hours
    moved = 0
    async with runtime.db() as session:
        due = await overdue(session, hours)
        candidates = await load_candidates(session) if due else []
        await session.rollback()
        for ticket_id in due:
            ticket = await claim_overdue(session, ticket_id, hours)
            if ticket is not None and await handoff.pass_on(
                session, ticket, runtime.engine, runtime.catalogs, timed_out=True, candidates=candidates
            ):
                await session.commit()
                moved += 1
            else:  # another instance has it, or nowhere to go: it stays overdue for the next run
                await session.rollback()
    if moved:
        runtime.wake_sender()
        log.info("passed on %d ticket(s) not accepted in time", moved)
    return moved


async def remind_unaccepted(runtime: Runtime) -> int:
    """Remind an association, once, HANDOFF_REMIND_HOURS before its notice passes on
    unaccepted; returns how many were reminded."""
    settings = runtime.settings
    async with runtime.db.begin() as session:
        due = await due_reminders(session, settings.handoff_accept_hours, settings.handoff_remind_hours)
        for ticket, chat in due:
            locale = ticket.association.notice_locale if ticket.association else settings.default_locale
            text = runtime.catalogs.get(locale).gettext(texts.NOTICE_REMINDER)
            text = text.format(ticket=ticket.id, reference=reference(ticket), hours=settings.handoff_remind_hours)
            queue(session, ticket, chat.chat_id, locale, "info", escape(text))
    if due:
        runtime.wake_sender()
    return len(due)


async def pass_on_stranded(runtime: Runtime) -> int:
    """Pass on, at once, every open ticket whose association can no longer receive anything
    (unreachable, or unenrolled); returns how many moved."""
    moved = 0
    async with runtime.db.begin() as session:
        tickets = await stranded(session)
        candidates = await load_candidates(session) if tickets else []  # the directory, read once
        for ticket in tickets:
            if await handoff.reroute(session, ticket, runtime.engine, runtime.catalogs, candidates):
                moved += 1
    if moved:
        runtime.wake_sender()
        log.info("passed on %d ticket(s) whose association cannot be reached", moved)
    return moved


async def check_accreditations(runtime: Runtime, today: dt.date) -> int:
    """Warn 30 and then 7 days before an accreditation ends (storage.coverage.WARNING_DAYS):
    the people who run the bot, and the association's own chat in its language. Each level
    is given once, whatever restarts or instances; returns how many warnings were given."""
    async with runtime.db.begin() as session:
        due = await warnings_due(session, today)
        for warning in due:
            alert = alerts.ACCREDITATION.format(slug=warning.slug, date=warning.until.isoformat())
            alerts.queue_alert(session, runtime.settings, alert)
            if warning.chat_id is not None:
                tr = runtime.catalogs.get(warning.notice_locale)
                text = tr.gettext(texts.ACCREDITATION_ENDING).format(date=tr.date(warning.until))
                session.add(
                    OutboxMessage(
                        ticket_id=None,
                        chat_id=warning.chat_id,
                        kind="info",
                        locale=warning.notice_locale,
                        text=escape(text),
                    )
                )
    if due:
        runtime.wake_sender()
    return len(due)


async def purge_expired(runtime: Runtime) -> int:
    async with runtime.db.begin() as session:
        removed = await purge(session, runtime.settings.ticket_retention_days)
    if removed:
        log.info("purged %d ticket(s) past retention", removed)
    return removed


async def clear_group_messages(runtime: Runtime, bot: Bot) -> int:
    """Delete (within 48 hours) or blank (after) the notices, prompts and relays of deleted
    tickets, so a group's history keeps nothing of them. Returns how many were cleared."""
    cleared = 0
    while True:
        async with runtime.db.begin() as session:
            rows = await claim_orphans(session, lease=runtime.settings.outbox_lease_seconds)
        if not rows:
            break
        outcomes = [(row.id, await _clear(bot, row, runtime)) for row in rows]
        async with runtime.db.begin() as session:
            await forget(session, [row_id for row_id, done in outcomes if done])
            await release(session, [row_id for row_id, done in outcomes if not done])
        cleared += sum(done for _, done in outcomes)
        if not all(done for _, done in outcomes):
            break  # Telegram is not answering: the rest waits for the next run
    if cleared:
        log.info("cleared %d message(s) of deleted tickets from association chats", cleared)
    return cleared


async def _clear(bot: Bot, row: GroupMessage, runtime: Runtime) -> bool:
    """True once the message is gone or neutral (or out of the bot's reach for good: deleted
    or blanked already, the bot no longer in that chat, the group become a supergroup)."""
    try:
        if row.sent_at > hour() - dt.timedelta(hours=DELETE_HOURS):
            with suppress(TelegramBadRequest):  # refused: blank it instead
                await bot.delete_message(chat_id=row.chat_id, message_id=row.message_id)
                return True
        neutral = escape(runtime.catalogs.get(row.locale).gettext(texts.GROUP_PURGED))
        await bot.edit_message_text(chat_id=row.chat_id, message_id=row.message_id, text=neutral)
    except TelegramAPIError as exc:
        kind = classify(exc).kind
        if kind in (Kind.TRANSIENT, Kind.RATE_LIMITED):
            log.warning("could not clear a message of a deleted ticket (%s); trying again later", kind)
            return False
    return True


async def maintenance(runtime: Runtime, bot: Bot, every: float = EVERY_SECONDS) -> None:
    """Runs until cancelled. Accreditations are checked once a day (per process)."""
    checked: dt.date | None = None
    while True:
        try:
            await pass_on_stranded(runtime)
            await pass_on_overdue(runtime)
            await remind_unaccepted(runtime)
            await purge_expired(runtime)
            await clear_group_messages(runtime, bot)
            if checked != (today := handoff.today()):
                await check_accreditations(runtime, today)
                checked = today
        except Exception as exc:  # noqa: BLE001  (try again next time)
            log.error("maintenance failed: %s", type(exc).__name__)
        await asyncio.sleep(every)
