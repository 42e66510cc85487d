"""Anonymous statistics: one-attribute monthly counters, kept when tickets are purged.

Each event (a handoff, an acceptance, a quick exit...) adds one to a few separate counters
of the month: the event's total, and one counter per attribute (its language, its
département, each need...). A row holds one attribute and its value, never two, so no row
describes a person by a combination; no time is finer than the month; no id is ever a
value. Counters are written in the same transaction as the event when there is one, with
an upsert that SQLite and PostgreSQL both run. What may be published is decided when
reporting (storage.suppression).
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import on_postgresql
from storage.models import Association, StatCounter, Ticket, hour

EVENTS = (
    "handoff",  # a ticket created: its notice goes to the nearest association
    "offer",  # a notice offered to an association: the first one, or after a pass-on
    "accept",
    "decline",
    "pass_on",  # by hand, on timeout, or because the association could not be reached
    "undelivered",  # no association could be reached
    "reply",  # an association wrote to a person's mailbox
    "no_association",  # consent given, but no association could take the request
    "quick_exit",
    "emergency",  # the emergency screen shown
    "limit",  # a rate limit stopped a person (handoffs, relays, code guesses)
)
TOTAL = "total"
"""The attribute of an event's own count; its value is empty."""
ATTRIBUTES = (TOTAL, "departement", "association", "language", "need", "age", "outcome", "time_to_accept", "limit")
NO_DEPARTEMENT = "none"
"""The value of a département not given ("I prefer not to say")."""
ACCEPT_BUCKETS = (("<1h", 1), ("1-6h", 6), ("6-24h", 24), ("1-3d", 72), (">3d", None))
"""Time to accept, coarse: (label, upper bound in hours), from the tickets' hour-rounded times."""
_VALUE = re.compile(r"[A-Za-z0-9_<>.-]{1,64}")
"""What a value may be: a code, a slug, a locale, a bucket. Anything else is not counted."""

Attributes = Mapping[str, str | Iterable[str] | None]


def current_month() -> str:
    """The month counters are written to, 'YYYY-MM' (the seeding in tests moves it)."""
    return hour().strftime("%Y-%m")


def accept_bucket(created: dt.datetime, accepted: dt.datetime) -> str:
    hours = (accepted - created).total_seconds() / 3600
    return next(label for label, bound in ACCEPT_BUCKETS if bound is None or hours < bound)


def _rows(event: str, attributes: Attributes) -> list[tuple[str, str]]:
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}")
    rows = {(TOTAL, "")}
    for name, values in attributes.items():
        if name not in ATTRIBUTES or name == TOTAL:
            raise ValueError(f"unknown attribute {name!r}")
        for value in [values] if isinstance(values, str) or values is None else values:
            if value is not None and _VALUE.fullmatch(value):
                rows.add((name, value))
    return sorted(rows)  # one order for every writer: no deadlock between two upserts on PostgreSQL


async def count(session: AsyncSession, event: str, attributes: Attributes | None = None) -> None:
    """Add one to the event's total and to each attribute's counter, in the caller's transaction."""
    month = current_month()
    values = [
        {"month": month, "event": event, "attribute": name, "value": value, "count": 1}
        for name, value in _rows(event, attributes or {})
    ]
    insert: Any = postgresql.insert if on_postgresql(session) else sqlite.insert
    statement = insert(StatCounter).values(values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["month", "event", "attribute", "value"],
            set_={"count": StatCounter.count + statement.excluded.count},
        )
    )


def ticket_attributes(ticket: Ticket, association: str | None) -> dict[str, str | Iterable[str] | None]:
    """What a ticket's events are counted by: each a counter of its own."""
    return {
        "departement": ticket.departement or NO_DEPARTEMENT,
        "language": ticket.locale,
        "association": association,
    }


def answer_attributes(answers: Mapping[str, Any]) -> dict[str, str | Iterable[str] | None]:
    """The coded answers counted at a handoff: the age band and each need."""
    needs = answers.get("needs")
    age = answers.get("age")
    return {
        "need": [n for n in needs if isinstance(n, str)] if isinstance(needs, list) else None,
        "age": age if isinstance(age, str) else None,
    }


@dataclass(frozen=True, slots=True)
class Count:
    month: str
    event: str
    attribute: str
    value: str
    count: int


async def counts(session: AsyncSession, first: str, last: str) -> list[Count]:
    """Every counter from month `first` to month `last`, both included ('YYYY-MM')."""
    rows = await session.scalars(
        select(StatCounter)
        .where(StatCounter.month >= first, StatCounter.month <= last)
        .order_by(StatCounter.month, StatCounter.event, StatCounter.attribute, StatCounter.value)
    )
    return [Count(r.month, r.event, r.attribute, r.value, r.count) for r in rows]


def months(first: str, last: str) -> list[str]:
    """'2026-11', '2027-01' -> ['2026-11', '2026-12', '2027-01']."""
    year, month = (int(part) for part in first.split("-"))
    out: list[str] = []
    while (current := f"{year:04d}-{month:02d}") <= last:
        out.append(current)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def months_back(last: str, n: int) -> str:
    """The first of the `n` months ending with `last`."""
    year, month = (int(part) for part in last.split("-"))
    index = year * 12 + month - 1 - (n - 1)
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@dataclass(frozen=True)
class AssociationStats:
    """What `/stats` tells an association about itself: its own requests, over whole months."""

    first: str
    last: str
    received: int
    """Notices offered to it: first ones and those passed on to it."""
    accepted: int
    declined: int
    passed_on: int
    """Passed on from it: by hand, on timeout, or because it could not be reached."""
    median_hours_to_accept: float | None
    """Over the tickets it accepted that are still held (tickets are purged after
    TICKET_RETENTION_DAYS): counters keep no time per association."""


async def association_stats(session: AsyncSession, slug: str, months_shown: int = 3) -> AssociationStats:
    """This association's last `months_shown` months, the current one included."""
    last = current_month()
    first = months_back(last, months_shown)
    rows = await session.execute(
        select(StatCounter.event, func.sum(StatCounter.count))
        .where(
            StatCounter.month >= first,
            StatCounter.month <= last,
            StatCounter.attribute == "association",
            StatCounter.value == slug,
        )
        .group_by(StatCounter.event)
    )
    by_event = {event: int(total) for event, total in rows.all()}
    since = dt.datetime.strptime(f"{first}+0000", "%Y-%m%z").replace(tzinfo=None)
    accepted = await session.execute(
        select(Ticket.created_at, Ticket.accepted_at)
        .join(Association, Association.id == Ticket.association_id)
        .where(Association.slug == slug, Ticket.accepted_at.is_not(None), Ticket.accepted_at >= since)
    )
    hours = [(done - created).total_seconds() / 3600 for created, done in accepted.all() if done is not None]
    return AssociationStats(
        first=first,
        last=last,
        received=by_event.get("offer", 0),
        accepted=by_event.get("accept", 0),
        declined=by_event.get("decline", 0),
        passed_on=by_event.get("pass_on", 0),
        median_hours_to_accept=statistics.median(hours) if hours else None,
    )
