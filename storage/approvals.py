"""Moderation: approved snapshots of scripts and catalogues, and the audit of every decision.

What people are served is, for each subject (the script, or one language), the snapshot
named by its latest approve or rollback event. Nothing else is ever served.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import CatalogueSnapshot, ModerationEvent, ScriptSnapshot, now

SCRIPT = "script"
SERVING_ACTIONS = ("approve", "rollback")


@dataclass(frozen=True)
class Served:
    """The approved content of one script: its YAML and each approved language's .po text."""

    script_digest: str
    script_source: str
    catalogues: dict[str, tuple[str, str]] = field(default_factory=dict)
    """locale -> (digest, .po text)."""


async def _serving(session: AsyncSession, script_id: str) -> dict[str, str]:
    """subject -> digest of its latest approve or rollback."""
    latest = (
        select(ModerationEvent.subject, func.max(ModerationEvent.id).label("last"))
        .where(ModerationEvent.script_id == script_id, ModerationEvent.action.in_(SERVING_ACTIONS))
        .group_by(ModerationEvent.subject)
        .subquery()
    )
    rows = await session.execute(
        select(ModerationEvent.subject, ModerationEvent.digest).join(latest, ModerationEvent.id == latest.c.last)
    )
    return dict(rows.all())  # a list of rows: dict() would take the Result itself, which has keys(), for a mapping


async def served(session: AsyncSession, script_id: str) -> Served | None:
    serving = await _serving(session, script_id)
    script_digest = serving.pop(SCRIPT, None)
    if script_digest is None:
        return None
    script = await session.scalar(
        select(ScriptSnapshot).where(ScriptSnapshot.script_id == script_id, ScriptSnapshot.digest == script_digest)
    )
    if script is None:
        return None
    catalogues = {}
    for locale, digest in serving.items():
        snapshot = await session.scalar(
            select(CatalogueSnapshot).where(CatalogueSnapshot.locale == locale, CatalogueSnapshot.digest == digest)
        )
        if snapshot is not None:
            catalogues[locale] = (digest, snapshot.source)
    return Served(script_digest, script.source, catalogues)


async def script_source(session: AsyncSession, script_id: str, digest_prefix: str) -> str | None:
    """An approved script's YAML, by (a prefix of) its hash."""
    rows = list(
        await session.scalars(
            select(ScriptSnapshot.source).where(
                ScriptSnapshot.script_id == script_id, ScriptSnapshot.digest.startswith(digest_prefix)
            )
        )
    )
    return rows[0] if len(rows) == 1 else None


async def approve(
    session: AsyncSession, script_id: str, subject: str, digest: str, source: str, moderator: str, note: str = ""
) -> bool:
    """Store the snapshot and serve it. False, and nothing recorded, when it is already served."""
    if (await _serving(session, script_id)).get(subject) == digest:
        return False
    model = ScriptSnapshot if subject == SCRIPT else CatalogueSnapshot
    key = ScriptSnapshot.script_id == script_id if subject == SCRIPT else CatalogueSnapshot.locale == subject
    existing = await session.scalar(select(model).where(key, model.digest == digest))
    if existing is None:
        if subject == SCRIPT:
            session.add(ScriptSnapshot(script_id=script_id, digest=digest, source=source))
        else:
            session.add(CatalogueSnapshot(locale=subject, digest=digest, source=source))
    session.add(_event("approve", script_id, subject, digest, moderator, note))
    return True


async def reject(
    session: AsyncSession, script_id: str, subject: str, digest: str, moderator: str, note: str = ""
) -> None:
    """Kept for the audit; people keep seeing what they saw."""
    session.add(_event("reject", script_id, subject, digest, moderator, note))


async def approved_matching(session: AsyncSession, script_id: str, subject: str, digest_prefix: str) -> set[str]:
    """The approved versions of a subject whose hash starts with `digest_prefix`: a rollback
    goes ahead when there is exactly one."""
    events = await history(session, script_id)
    return {
        e.digest
        for e in events
        if e.subject == subject and e.action == "approve" and e.digest.startswith(digest_prefix)
    }


async def rollback(
    session: AsyncSession, script_id: str, subject: str, digest: str, moderator: str, note: str = ""
) -> bool:
    """Serve an earlier approved snapshot again. False when `digest` was never approved."""
    approved_before = await session.scalar(
        select(ModerationEvent.id).where(
            ModerationEvent.script_id == script_id,
            ModerationEvent.subject == subject,
            ModerationEvent.digest == digest,
            ModerationEvent.action == "approve",
        )
    )
    if approved_before is None:
        return False
    session.add(_event("rollback", script_id, subject, digest, moderator, note))
    return True


async def history(session: AsyncSession, script_id: str | None = None) -> list[ModerationEvent]:
    query = select(ModerationEvent).order_by(ModerationEvent.id)
    if script_id is not None:
        query = query.where(ModerationEvent.script_id == script_id)
    return list(await session.scalars(query))


async def latest_event_id(session: AsyncSession) -> int:
    """Changes whenever anything is approved or rolled back: running bots reload then."""
    return int(await session.scalar(select(func.max(ModerationEvent.id))) or 0)


def _event(action: str, script_id: str, subject: str, digest: str, moderator: str, note: str) -> ModerationEvent:
    return ModerationEvent(
        action=action,
        script_id=script_id,
        subject=subject,
        digest=digest,
        moderator=moderator[:100],
        note=note,
        created_at=now().replace(microsecond=0),
    )
