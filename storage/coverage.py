"""Where people can be handed off, as an operator checks it, and the warnings before an
accreditation ends.

`passerelle associations check` prints the audit and exits non-zero when anything needs a
hand, so cron can run it. The bot warns each association 30 and then 7 days before its
accreditation ends (bot.jobs); the warning levels already given are stored on the
association, so a restart or a second instance warns no one twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import rows_changed
from storage.directory.csvfile import list_associations
from storage.directory.nearest import load_candidates, nearest
from storage.models import Association, EnrolledChat
from storage.places import Places

ENDING_WITHIN_DAYS = 60
"""An accreditation ending this soon is reported: time enough to renew it or to find another."""
WARNING_DAYS = (30, 7)
"""How many days before the end an association, and the people who run the bot, are told."""


@dataclass(frozen=True)
class Ending:
    slug: str
    until: dt.date


@dataclass(frozen=True)
class Audit:
    """What stops or will soon stop handoffs. Each tuple is sorted (slugs, dates, codes)."""

    today: dt.date
    ending: tuple[Ending, ...]
    """Accredited today, but ending within `ENDING_WITHIN_DAYS` days."""
    ended: tuple[Ending, ...]
    paused: tuple[str, ...]
    """Intake closed (`intake_open` false)."""
    unreachable: tuple[str, ...]
    """Telegram said its chat is gone: no new request until it enrolls again."""
    not_enrolled: tuple[str, ...]
    """No chat at all: it can receive nothing."""
    uncovered: tuple[tuple[str, str], ...]
    """(code, name) of each département no eligible association covers."""

    def problems(self) -> bool:
        return any((self.ending, self.ended, self.paused, self.unreachable, self.not_enrolled, self.uncovered))

    def lines(self) -> list[str]:
        """The report, for a terminal or a cron mail; empty when there is nothing to say."""
        out: list[str] = []

        def section(title: str, items: list[str]) -> None:
            if items:
                out.extend([f"{len(items)} {title}:", *(f"  {item}" for item in items)])

        section(
            f"accreditation(s) ending within {ENDING_WITHIN_DAYS} days",
            [f"{e.slug}: ends {e.until.isoformat()} ({(e.until - self.today).days} days)" for e in self.ending],
        )
        section(
            "accreditation(s) ended: no handoff to them", [f"{e.slug}: ended {e.until.isoformat()}" for e in self.ended]
        )
        section("association(s) with intake paused", list(self.paused))
        section("association(s) unreachable on Telegram (re-enroll them)", list(self.unreachable))
        section("association(s) not enrolled (no Telegram chat)", list(self.not_enrolled))
        section(
            "département(s) with no eligible association (people there are offered the nearest one "
            "elsewhere, or told there is none)",
            [f"{code} {name}" for code, name in self.uncovered],
        )
        return out


async def audit(session: AsyncSession, today: dt.date, places: Places) -> Audit:
    associations = await list_associations(session)
    candidates = await load_candidates(session)
    chats = set(await session.scalars(select(EnrolledChat.association_id)))
    horizon = today + dt.timedelta(days=ENDING_WITHIN_DAYS)
    return Audit(
        today=today,
        ending=tuple(
            Ending(a.slug, a.accredited_until) for a in associations if today <= a.accredited_until <= horizon
        ),
        ended=tuple(Ending(a.slug, a.accredited_until) for a in associations if a.accredited_until < today),
        paused=tuple(a.slug for a in associations if not a.intake_open),
        unreachable=tuple(a.slug for a in associations if a.unreachable_since is not None),
        not_enrolled=tuple(a.slug for a in associations if a.id not in chats),
        uncovered=tuple(
            (d.code, d.name) for d in places.departements() if nearest(candidates, d.code, None, today) is None
        ),
    )


@dataclass(frozen=True)
class AccreditationWarning:
    slug: str
    until: dt.date
    days: int
    """The level reached: 30 or 7 (WARNING_DAYS)."""
    notice_locale: str
    chat_id: int | None
    """The association's enrolled chat, if any."""


async def warnings_due(session: AsyncSession, today: dt.date) -> list[AccreditationWarning]:
    """The warnings to give today, each claimed in this transaction: given once per level.

    The level is the smallest of WARNING_DAYS not below the days left, so a bot started five
    days before the end warns once, at 7. The claim is a conditional UPDATE: of two instances,
    one wins. A renewed accreditation (a new `accredited_until`) starts again from nothing.
    """
    last = max(WARNING_DAYS)
    rows = (
        await session.execute(
            select(Association, EnrolledChat.chat_id)
            .outerjoin(EnrolledChat)
            .where(
                Association.accredited_until >= today, Association.accredited_until <= today + dt.timedelta(days=last)
            )
            .order_by(Association.slug)
        )
    ).all()
    due = []
    for association, chat_id in rows:
        left = (association.accredited_until - today).days
        level = min(days for days in WARNING_DAYS if left <= days)
        won = await rows_changed(
            session,
            update(Association)
            .where(
                Association.id == association.id,
                or_(
                    Association.warned_for.is_(None),
                    Association.warned_for != association.accredited_until,
                    Association.warned_days > level,
                ),
            )
            .values(warned_for=association.accredited_until, warned_days=level)
            .execution_options(synchronize_session=False),
        )
        if won:
            due.append(
                AccreditationWarning(
                    association.slug, association.accredited_until, level, association.notice_locale, chat_id
                )
            )
    return due
