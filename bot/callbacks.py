"""Every kind of button data the bot sends, and how a press is read back: in one place.

Telegram hands a button's data back as it was sent (64 bytes at most), and anyone can
forge it: each kind is read strictly here, and what no kind reads gets the kind "this
button is no longer active" answer (bot.handlers.private).

- Script buttons keep the engine's compact `version:op:node:option` text
  (`dialogs.events`, which stays free of aiogram); `ScriptButton` reads it for a router.
- A person's other buttons: the quick exit and the language picker (fixed strings), a
  language, the mailbox's actions and pages.
- Staff and moderators' buttons, as aiogram's `CallbackData`: typed, prefix-checked, with
  a `.filter()`. Their wire format is the one the notices already sent in association
  chats carry: `t:a:123` accepts ticket 123.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from aiogram.filters import Filter
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery
from pydantic import BeforeValidator, Field

from dialogs.events import Event, EventOp, try_decode

__all__ = [
    "EXIT",
    "PICKER",
    "Event",
    "EventOp",
    "LanguagePick",
    "MailboxAction",
    "MailboxButton",
    "MailboxPage",
    "ModeratorAction",
    "ModeratorButton",
    "NoticeAction",
    "NoticeButton",
    "ScriptButton",
]

EXIT = "x"
"""The quick exit, on every screen."""
PICKER = "lang"
"""Opens the language picker."""


def _digits(value: object) -> object:
    """Plain ASCII digits only: pydantic would also read " 12", "1_2" or "+12" as a number."""
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise ValueError("not a number")
    return value


Digits = Annotated[int, BeforeValidator(_digits)]


class ScriptButton(Filter):
    """A button of the script: passes its `version` and `event` to the handler."""

    async def __call__(self, callback: CallbackQuery) -> bool | dict[str, Any]:
        decoded = try_decode(callback.data or "")
        if decoded is None:
            return False
        version, event = decoded
        return {"version": version, "event": event}


class LanguagePick(CallbackData, prefix="lang"):
    """A language on the picker: `lang:fr`. An unknown one is refused by the conversation."""

    locale: str


class MailboxAction(StrEnum):
    CHECK = "check"
    ANSWER = "answer"
    DELETE = "delete"
    CANCEL = "cancel"
    """Cancel an answer being written."""


class MailboxButton(CallbackData, prefix="m"):
    """`m:check`: one of the mailbox's actions."""

    action: MailboxAction


class MailboxPage(CallbackData, prefix="m"):
    """`m:page:2`: a page of the mailbox's replies (bot.conversation.mailbox), newest first.
    The page lives in the button, not in the state."""

    kind: Literal["page"] = "page"
    page: Annotated[Digits, Field(ge=0, le=999_999)]


class NoticeAction(StrEnum):
    """What staff do with a notice; the value is its one-letter code in button data."""

    ACCEPT = "a"
    DECLINE = "d"
    PASS_ON = "p"
    REPLY = "r"


class NoticeButton(CallbackData, prefix="t"):
    """A button under a notice in an association's chat: `t:a:123` accepts ticket 123.
    Who may act on the ticket is storage's decision (storage.tickets.ticket_for_chat)."""

    action: NoticeAction
    ticket: Annotated[Digits, Field(ge=0, lt=10**12)]


class ModeratorAction(StrEnum):
    APPROVE = "a"
    REJECT = "r"
    ROLLBACK = "b"


class ModeratorButton(CallbackData, prefix="mod"):
    """`mod:a:fr:0123abcd`: a moderator's decision on a version (/review), or a rollback to
    one (/history). `digest` is the version's first 8 hex digits: a button pressed after the
    files changed no longer matches, and is answered as stale."""

    action: ModeratorAction
    subject: Annotated[str, Field(pattern=r"^[a-zA-Z_]{2,8}$")]
    """A locale, or "script"."""
    digest: Annotated[str, Field(pattern=r"^[0-9a-f]{8}$")]
