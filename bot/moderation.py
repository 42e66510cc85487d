"""Serving only what moderators approved, and following new approvals while running.

Approvals live in the database. A fresh database takes the release's approval record
(`dialogs/approved.json`) for whatever files still match it; any local edit needs a new
approval (`passerelle dialogs approve`, or /review in Telegram).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialogs.i18n import DOMAIN, LOCALES_DIR, Catalogs
from dialogs.loader import ORIENTATION, LoadedScript, ScriptInvalid, parse_script
from dialogs.record import RECORD, read_record
from dialogs.review import Change, diff
from dialogs.versions import CatalogueInvalid, Version, catalogue_from_po_text, version_from_files, version_from_source
from storage import approvals
from storage.db import one_at_a_time

SCRIPT_ID = ORIENTATION.stem


class NotApproved(Exception):
    """Nothing approved to serve: the operator must approve before people can be served."""


@dataclass(frozen=True)
class Content:
    """One approved version: the script and the catalogues people are served."""

    script: LoadedScript
    catalogs: Catalogs
    event_id: int


def po_text(locale: str, locales_dir: Path = LOCALES_DIR) -> str:
    return (locales_dir / locale / "LC_MESSAGES" / f"{DOMAIN}.po").read_text(encoding="utf-8")


async def seed_from_record(session: AsyncSession, record_path: Path = RECORD, script_path: Path = ORIENTATION) -> int:
    """Approve, from the release record, whatever files still have the recorded hashes."""
    record = read_record(record_path)
    entry = record.script.get(SCRIPT_ID)
    if entry is None:
        return 0
    try:
        version = version_from_files(script_path)
    except (ScriptInvalid, CatalogueInvalid):
        return 0
    if version.script.digest != entry.digest:
        return 0
    note = f"release record ({entry.at}) {entry.note}".strip()
    seeded = int(
        await approvals.approve(session, SCRIPT_ID, approvals.SCRIPT, entry.digest, version.source, entry.by, note)
    )
    for locale, approved in record.catalogues.get(SCRIPT_ID, {}).items():
        catalogue = version.catalogues.get(locale)
        if catalogue is not None and catalogue.digest == approved.digest:
            seeded += await approvals.approve(
                session,
                SCRIPT_ID,
                locale,
                approved.digest,
                po_text(locale),
                approved.by,
                f"release record ({approved.at})",
            )
    return seeded


async def load_approved(db: async_sessionmaker[AsyncSession], record_path: Path = RECORD) -> Content:
    async with db.begin() as session:
        await one_at_a_time(session)  # instances starting together seed the release once
        served = await approvals.served(session, SCRIPT_ID)
        if served is None and not await approvals.history(session, SCRIPT_ID):
            await seed_from_record(session, record_path)
            served = await approvals.served(session, SCRIPT_ID)
        event_id = await approvals.latest_event_id(session)
    if served is None:
        raise NotApproved(
            f"the {SCRIPT_ID} script has no approved version: "
            f"run `passerelle dialogs approve {SCRIPT_ID} --lang all --by NAME`"
        )
    script = parse_script(served.script_source, f"{SCRIPT_ID}.yaml (approved {served.script_digest[:8]})")
    catalogs = Catalogs.from_sources({locale: source for locale, (_digest, source) in served.catalogues.items()})
    return Content(script, catalogs, event_id)


def load_files() -> Content:
    """Development only (REQUIRE_APPROVAL=false, and `passerelle try`): the files as they are."""
    return Content(version_from_files(ORIENTATION).script, Catalogs(), 0)


async def latest_event(db: async_sessionmaker[AsyncSession]) -> int:
    async with db() as session:
        return await approvals.latest_event_id(session)


async def approved_version(
    db: async_sessionmaker[AsyncSession], script_id: str = SCRIPT_ID, digest: str | None = None
) -> Version | None:
    """What people are served now (or an earlier approved script, by hash prefix), as a reviewable Version."""
    async with db() as session:
        served = await approvals.served(session, script_id)
        if served is None:
            return None
        source = served.script_source
        if digest is not None:
            earlier = await approvals.script_source(session, script_id, digest)
            if earlier is None:
                return None
            source = earlier
    catalogues = {locale: catalogue_from_po_text(locale, text) for locale, (_d, text) in served.catalogues.items()}
    return version_from_source(source, f"{script_id}.yaml", catalogues)


@dataclass(frozen=True)
class Pending:
    """One subject (the script, or a language) whose files differ from what is approved."""

    subject: str
    digest: str
    changes: tuple[Change, ...]


def pending_changes(approved: Version | None, files: Version) -> list[Pending]:
    """The script first, then each language, each with its changes."""
    changes = diff(approved, files) if approved is not None else []
    pending = []
    script_digest = files.script.digest
    if approved is None or approved.script.digest != script_digest:
        pending.append(
            Pending(approvals.SCRIPT, script_digest, tuple(c for c in changes if not c.kind.startswith("translation")))
        )
    for locale, catalogue in sorted(files.catalogues.items()):
        current = approved.catalogues.get(locale) if approved is not None else None
        if current is None or current.digest != catalogue.digest:
            mine = tuple(c for c in changes if c.kind.startswith("translation") and c.where.startswith(f"{locale}:"))
            pending.append(Pending(locale, catalogue.digest, mine))
    return pending
