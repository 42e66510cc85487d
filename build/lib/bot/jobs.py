"""Periodic work inside the bot process: pass on notices nobody accepted, purge old tickets.

`passerelle purge` runs the same purge from the command line.
"""

from __future__ import annotations

import asyncio
import logging

from bot import handoff
from bot.conversation import Runtime
from storage.tickets import overdue, purge

log = logging.getLogger(__name__)
EVERY_SECONDS = 600.0
"""Ten minutes: pass-on deadlines are counted in hours, retention in days."""


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


async def purge_expired(runtime: Runtime) -> int:
    async with runtime.db.begin() as session:
        removed = await purge(session, runtime.settings.ticket_retention_days)
    if removed:
        log.info("purged %d ticket(s) past retention", removed)
    return removed


async def maintenance(runtime: Runtime, every: float = EVERY_SECONDS) -> None:
    """Runs until cancelled."""
    while True:
        try:
            await pass_on_overdue(runtime)
            await purge_expired(runtime)
        except Exception as exc:  # noqa: BLE001  (try again next time)
            log.error("maintenance failed: %s", type(exc).__name__)
        await asyncio.sleep(every)
