"""A seeded run of simulated requests for the statistics, through the storage functions.

No bot, no Telegram: each request is a ticket made by `create_ticket`, then accepted or
declined with `decide`, or passed on with `move_ticket`, each in its own transaction, in
the month chosen for it. Quick exits, emergency screens, limits and requests with no
association are counted as the bot counts them (`storage.stats.count`). Fictional
associations only; the answers are the script's coded values. Reusable: tests, benchmarks,
or a demonstration database (`python -m tests.support.stats_seed sqlite+aiosqlite:///demo.sqlite3`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from unittest.mock import patch

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import stats
from storage.db import create_engine, sessions, upgrade
from storage.directory.csvfile import import_csv
from storage.directory.enrollment import create_enrollment_code, enroll
from storage.models import Association, Ticket
from storage.tickets import NewTicket, create_ticket, decide, move_ticket

DIRECTORY = """slug,name,departements,city,latitude,longitude,accredited_until,intake_open,source
test-stats-paris,Association Test Statistiques Paris,75 92 93 94,Paris,48.86,2.36,2099-01-01,true,fictional
test-stats-lyon,Association Test Statistiques Lyon,69,Lyon,45.76,4.83,2099-01-01,true,fictional
test-stats-montpellier,Association Test Statistiques Montpellier,34 30,Montpellier,43.61,3.88,2099-01-01,true,fictional
test-stats-marseille,Association Test Statistiques Marseille,13,Marseille,43.30,5.37,2099-01-01,true,fictional
"""
CHATS = {
    "test-stats-paris": -3001,
    "test-stats-lyon": -3002,
    "test-stats-montpellier": -3003,
    "test-stats-marseille": -3004,
}
HOME = {"75": "test-stats-paris", "93": "test-stats-paris", "69": "test-stats-lyon", "34": "test-stats-montpellier"}
HOME |= {"13": "test-stats-marseille", "30": "test-stats-montpellier"}
LANGUAGES = {"fr": 40, "ro": 18, "en": 12, "bg": 10, "zh_Hans": 8, "es": 5, "pt_BR": 3, "ru": 2, "uk": 1, "hu": 1}
DEPARTEMENTS = {"75": 35, "93": 20, "69": 15, "34": 12, "13": 10, "30": 2, None: 6}
NEEDS = ("exit", "shelter", "health", "legal", "control", "violence", "info")
AGES = {"adult": 80, "unknown": 15, "minor": 3}
ACCEPT_HOURS = {0: 25, 3: 30, 12: 20, 40: 10, 100: 3}
"""Hours from request to acceptance, and how often: one of each time-to-accept bucket."""


@dataclass
class Seeded:
    """What was simulated, to compare a report or /stats with."""

    months: list[str]
    handoffs: Counter[str] = field(default_factory=Counter)
    """Per month."""
    events: Counter[str] = field(default_factory=Counter)
    """Per event (accept, decline, pass_on...)."""
    by_association: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(event, slug): offer, accept, decline, pass_on."""
    languages: Counter[str] = field(default_factory=Counter)
    departements: Counter[str] = field(default_factory=Counter)
    """Handoffs per département ('none' when not given)."""


@contextmanager
def in_month(month: str) -> Iterator[None]:
    """Counters written meanwhile go to `month`."""
    with patch.object(stats, "current_month", lambda: month):
        yield


def _pick(rng: random.Random, weights: dict[str | None, int] | dict[str, int]) -> str | None:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]  # type: ignore[index]  # keys are the table's own


async def _directory(db: async_sessionmaker[AsyncSession]) -> None:
    async with db.begin() as session:
        if await session.scalar(select(Association).where(Association.slug == "test-stats-paris")) is None:
            await import_csv(session, DIRECTORY.encode())
            for slug, chat_id in CHATS.items():
                assert await enroll(session, await create_enrollment_code(session, slug), chat_id) is not None


async def seed(
    db: async_sessionmaker[AsyncSession], months: list[str], requests: int = 300, seed_value: int = 15
) -> Seeded:
    """`requests` simulated requests spread over `months`, and what became of them."""
    rng = random.Random(seed_value)
    await _directory(db)
    seeded = Seeded(months)
    for number in range(requests):
        month = months[min(len(months) - 1, int(len(months) * (number / requests) ** 0.8))]  # growing use
        departement = _pick(rng, DEPARTEMENTS)
        language = str(_pick(rng, LANGUAGES))
        slug = HOME.get(departement or "", "test-stats-paris")
        answers = {
            "age": str(_pick(rng, AGES)),
            "needs": rng.sample(NEEDS, rng.choice((1, 1, 2, 3))),
            "contact": rng.choice(("self", "mailbox")),
        }
        new = NewTicket(
            code=f"SEED-{seed_value:04d}-{number:04d}",
            answers=answers,
            departement=departement,
            locale=language,
            minor=answers["age"] == "minor",
            danger=False,
            mailbox=answers["contact"] == "mailbox",
            script_version="seeded",
            association_slug=slug,
        )
        with in_month(month):
            async with db.begin() as session:  # one transaction a request: a few hundred stay quick
                ticket = await create_ticket(session, new, lambda ticket, _locale: f"Demande {ticket.id}")
                await session.flush()
                session.expunge_all()  # what follows reads the ticket afresh, as another transaction would
                await _fate(session, rng, seeded, ticket.id, slug)
                await _person_events(session, rng, language)
            seeded.handoffs[month] += 1
            seeded.languages[language] += 1
            seeded.departements[departement or stats.NO_DEPARTEMENT] += 1
            seeded.by_association["offer", slug] += 1
    return seeded


async def _fate(session: AsyncSession, rng: random.Random, seeded: Seeded, ticket_id: int, slug: str) -> None:
    """Accepted (after a while), declined, passed on to another association, or still open."""
    fate = rng.choices(("accept", "decline", "pass_on", "open"), weights=(65, 12, 15, 8))[0]
    if fate == "open":
        return
    if fate == "pass_on":
        ticket = await session.get(Ticket, ticket_id)
        other = await session.scalar(select(Association).where(Association.slug != slug).order_by(Association.slug))
        assert ticket is not None and other is not None
        await move_ticket(session, ticket, other, rng.choice(("by_hand", "timeout")))
        seeded.by_association["offer", other.slug] += 1
    else:
        hours = int(str(_pick(rng, {str(h): w for h, w in ACCEPT_HOURS.items()})))
        created = await session.scalar(select(Ticket.created_at).where(Ticket.id == ticket_id))
        assert created is not None
        earlier = created - dt.timedelta(hours=hours)  # as if made that long ago
        await session.execute(update(Ticket).where(Ticket.id == ticket_id).values(created_at=earlier))
        result = await decide(session, ticket_id, CHATS[slug], fate)  # type: ignore[arg-type]  # the seeded fates are accept or decline
        assert isinstance(result, Ticket), result
    seeded.events[fate] += 1
    seeded.by_association[fate, slug] += 1


async def _person_events(session: AsyncSession, rng: random.Random, language: str) -> None:
    """What the bot counts beside the handoffs, now and then."""
    if rng.random() < 0.3:
        await stats.count(session, "quick_exit", {"language": language})
    if rng.random() < 0.2:
        await stats.count(session, "emergency", {"language": language})
    if rng.random() < 0.02:
        await stats.count(session, "limit", {"limit": "handoff"})
    if rng.random() < 0.05:
        await stats.count(
            session, "no_association", {"departement": rng.choice(("23", "48", "971")), "language": language}
        )


async def _main(url: str) -> None:
    engine = create_engine(url)
    await upgrade(engine)
    seeded = await seed(sessions(engine), stats.months("2026-01", "2026-12"))
    await engine.dispose()
    print(f"{sum(seeded.handoffs.values())} requests seeded in {url}")  # noqa: T201


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1]))
