"""Periodic work inside the bot process: pass on notices nobody accepted or nobody can
receive, purge old tickets, warn of accreditations about to end.

`passerelle purge` runs the same purge from the command line.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from sqlalchemy import select

from bot import alerts, handoff
from bot.conversation import Runtime
from storage.models import Association, EnrolledChat
from storage.tickets import overdue, purge, stranded

log = logging.getLogger(__name__)
EVERY_SECONDS = 600.0
"""Ten minutes: pass-on deadlines are counted in hours, retention in days."""
ACCREDITATION_WARNING_DAYS = 30


async def pass_on_overdue(runtime: Runtime) -> int:
    """Pass on every open ticket not accepted within HANDOFF_ACCEPT_HOURS; returns how many moved."""
    moved = 0
    async with runtime.db.begin() as session:
        for ticket in await overdue(session, runtime.settings.handoff_accept_hours):
            if await handoff.pass_on(session, ticket, runtime.engine, runtime.catalogs, timed_out=True):
                moved += 1
    if moved:
        runtime.wake_sender()
        log.info("passed on %d ticket(s) not accepted in time", moved)
    return moved


async def pass_on_stranded(runtime: Runtime) -> int:
    """Pass on, at once, every open ticket whose association can no longer receive anything
    (unreachable, or unenrolled); returns how many moved."""
    moved = 0
    async with runtime.db.begin() as session:
        for ticket in await stranded(session):
            if await handoff.reroute(session, ticket, runtime.engine, runtime.catalogs):
                moved += 1
    if moved:
        runtime.wake_sender()
        log.info("passed on %d ticket(s) whose association cannot be reached", moved)
    return moved


async def check_accreditations(runtime: Runtime, today: dt.date) -> int:
    """Alert for each enrolled association whose accreditation ends within 30 days; returns how many."""
    until = today + dt.timedelta(days=ACCREDITATION_WARNING_DAYS)
    async with runtime.db.begin() as session:
        ending = list(
            await session.scalars(
                select(Association)
                .join(EnrolledChat)
                .where(Association.accredited_until >= today, Association.accredited_until <= until)
                .order_by(Association.slug)
            )
        )
        for association in ending:
            text = alerts.ACCREDITATION.format(slug=association.slug, date=association.accredited_until.isoformat())
            alerts.queue_alert(session, runtime.settings, text)
    if ending:
        runtime.wake_sender()
    return len(ending)


async def purge_expired(runtime: Runtime) -> int:
    async with runtime.db.begin() as session:
        removed = await purge(session, runtime.settings.ticket_retention_days)
    if removed:
        log.info("purged %d ticket(s) past retention", removed)
    return removed


async def maintenance(runtime: Runtime, every: float = EVERY_SECONDS) -> None:
    """Runs until cancelled. Accreditations are checked once a day (per process)."""
    checked: dt.date | None = None
    while True:
        try:
            await pass_on_stranded(runtime)
            await pass_on_overdue(runtime)
            await purge_expired(runtime)
            if checked != (today := handoff.today()):
                await check_accreditations(runtime, today)
                checked = today
        except Exception as exc:  # noqa: BLE001  (try again next time)
            log.error("maintenance failed: %s", type(exc).__name__)
        await asyncio.sleep(every)
