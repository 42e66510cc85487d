"""What a Bot API failure means for a message waiting in the outbox: one pure function.

The sender acts on the class, never on the exception: follow a migration, stop sending to
a chat that is gone, wait out a 429, back off from an outage, and never resend bytes that
Telegram refused as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramRetryAfter,
)

GONE_DESCRIPTIONS = ("chat not found", "group chat was deactivated", "peer_id_invalid", "chat_write_forbidden")
"""400s that say the chat itself is gone, not that the message was wrong."""


class Kind(StrEnum):
    MIGRATED = "migrated"
    """The group became a supergroup: send to `migrate_to` instead, now."""
    GONE = "gone"
    """403 (bot removed, blocked), chat not found: this chat will never take a message again."""
    RATE_LIMITED = "rate_limited"
    """429: wait `retry_after`; never counts towards giving up."""
    TRANSIENT = "transient"
    """5xx, network, timeout: back off; give up only after OUTBOX_GIVE_UP_HOURS."""
    REFUSED = "refused"
    """Any other 400 (too long, bad HTML): a bug of ours; the same bytes would be refused again."""


@dataclass(frozen=True)
class Failure:
    kind: Kind
    retry_after: float = 0.0
    migrate_to: int | None = None


def classify(exc: BaseException) -> Failure:
    """The class of a failed send. Anything not a Bot API answer (a dropped connection, a
    timeout, a server that is not Telegram) is transient."""
    if isinstance(exc, TelegramMigrateToChat):
        return Failure(Kind.MIGRATED, migrate_to=exc.migrate_to_chat_id)
    if isinstance(exc, TelegramRetryAfter):
        return Failure(Kind.RATE_LIMITED, retry_after=float(exc.retry_after))
    if isinstance(exc, TelegramForbiddenError):
        return Failure(Kind.GONE)
    if isinstance(exc, TelegramBadRequest | TelegramEntityTooLarge):
        message = exc.message.lower()
        return Failure(Kind.GONE if any(d in message for d in GONE_DESCRIPTIONS) else Kind.REFUSED)
    return Failure(Kind.TRANSIENT)
