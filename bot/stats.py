"""Counting the events of a person's path that have no transaction of their own (a quick
exit, the emergency screen, a rate limit, no association found): storage.stats, in the
background.

The count is a small transaction of its own, started beside the person's turn: it never
delays the screen, and a failure is logged by its type only, then forgotten. Nothing
passed here is an id: only the event and coded attributes (a language, a département).
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import stats

log = logging.getLogger(__name__)
_pending: set[asyncio.Task[None]] = set()


def later(db: async_sessionmaker[AsyncSession], event: str, **attributes: str | None) -> None:
    """Count `event` by each of `attributes`, soon, without waiting for it."""
    task = asyncio.get_running_loop().create_task(_count(db, event, attributes))
    _pending.add(task)
    task.add_done_callback(_pending.discard)


async def _count(db: async_sessionmaker[AsyncSession], event: str, attributes: dict[str, str | None]) -> None:
    try:
        async with db.begin() as session:
            await stats.count(session, event, attributes)
    except Exception as exc:  # noqa: BLE001  (a statistic is never worth a person's turn)
        log.warning("could not count a %s event (%s)", event, type(exc).__name__)


async def settle() -> None:
    """Wait for the counts still being written (tests, and a clean stop)."""
    while _pending:
        await asyncio.gather(*list(_pending), return_exceptions=True)


def screen_shown(db: async_sessionmaker[AsyncSession], emergency: bool, language: str) -> None:
    """A screen shown to a person: counted when it is the emergency one."""
    if emergency:
        later(db, "emergency", language=language)


def no_association(db: async_sessionmaker[AsyncSession], departement: str | None, language: str) -> None:
    """Consent given, but no association could take the request: the map's "requests with none"."""
    later(db, "no_association", departement=departement or stats.NO_DEPARTEMENT, language=language)
