"""Binding an association's Telegram chat: a one-time code, spent once, and unbinding.

Nothing here commits: the caller owns the transaction, so an enrollment is applied whole or not at all.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import codes, outbox
from storage.models import Association, EnrolledChat, EnrollmentCode, now
from storage.tickets import association_by_slug

ENROLLMENT_LENGTH = 10
"""50 random bits, single use, 48 hours: a plain sha256 leaves nothing practical to guess."""
ENROLLMENT_VALIDITY = dt.timedelta(hours=48)


class UnknownAssociation(LookupError):
    """No association has this slug."""

    def __init__(self, slug: str) -> None:
        super().__init__(f"no association with slug {slug!r} (see `passerelle associations list`)")
        self.slug = slug


def _enrollment_hash(code: str) -> str | None:
    """The hash of a typed code ('abcde fghjk', 'ABCDEFGHJK', 'ABCDE-FGHJK' are one code)."""
    symbols = codes.read(code, ENROLLMENT_LENGTH)
    return codes.digest(symbols) if symbols else None


async def _association(session: AsyncSession, slug: str) -> Association:
    association = await association_by_slug(session, slug)
    if association is None:
        raise UnknownAssociation(slug)
    return association


async def _retire_codes(session: AsyncSession, association_id: int) -> None:
    """Outstanding codes of an association die when a new one is issued or it is unenrolled."""
    await session.execute(
        update(EnrollmentCode)
        .where(EnrollmentCode.association_id == association_id, EnrollmentCode.used.is_(False))
        .values(used=True)
    )


async def create_enrollment_code(session: AsyncSession, slug: str) -> str:
    """A one-time code shown as XXXXX-XXXXX, valid 48 hours; earlier unused codes are retired."""
    association = await _association(session, slug)
    code = codes.generate(2, ENROLLMENT_LENGTH // 2)
    await _retire_codes(session, association.id)
    session.add(
        EnrollmentCode(
            code_hash=_enrollment_hash(code),
            association_id=association.id,
            expires_at=now() + ENROLLMENT_VALIDITY,
            used=False,
        )
    )
    await session.flush()
    return code


async def enroll(session: AsyncSession, code: str, chat_id: int) -> Association | None:
    """Bind `chat_id` to the code's association; None for a wrong, expired or used code (no hint which).

    An association has one chat: a previous one is replaced, and a chat bound to another
    association moves here. The code is spent by a conditional update, so two chats
    racing with one code cannot both win.
    """
    digest = _enrollment_hash(code)
    if digest is None:
        return None
    spent = await session.execute(
        update(EnrollmentCode)
        .where(
            EnrollmentCode.code_hash == digest,
            EnrollmentCode.used.is_(False),
            EnrollmentCode.expires_at > now(),
        )
        .values(used=True)
        .returning(EnrollmentCode.association_id)
    )
    association_id = spent.scalar_one_or_none()
    if association_id is None:
        return None
    replaced = await session.scalars(
        select(EnrolledChat).where((EnrolledChat.association_id == association_id) | (EnrolledChat.chat_id == chat_id))
    )
    # The other association's rows are canceled first, so that what moves here from this
    # association's old chat is not canceled with them.
    for previous in sorted(replaced, key=lambda enrolled: enrolled.association_id == association_id):
        if previous.association_id == association_id:
            await outbox.move_chat(session, previous.chat_id, chat_id)  # what waited for the old chat goes here
        else:
            await outbox.cancel_chat(session, chat_id, "unenrolled")  # this chat leaves another association
        await session.delete(previous)
    await session.flush()
    session.add(EnrolledChat(association_id=association_id, chat_id=chat_id))
    await session.execute(update(Association).where(Association.id == association_id).values(unreachable_since=None))
    await session.flush()
    return await session.get(Association, association_id, populate_existing=True)


async def unenroll(session: AsyncSession, slug: str) -> int | None:
    """Unbind the association's chat, cancel what still waited for it, and retire its pending
    codes. Returns how many messages were canceled; None when it had no chat. Its open
    tickets are passed on by the running bot (bot.jobs.pass_on_stranded)."""
    association = await _association(session, slug)
    chat = await session.scalar(select(EnrolledChat).where(EnrolledChat.association_id == association.id))
    await _retire_codes(session, association.id)
    if chat is None:
        return None
    canceled = await outbox.cancel_chat(session, chat.chat_id, "unenrolled")
    await session.delete(chat)
    await session.flush()
    return canceled
