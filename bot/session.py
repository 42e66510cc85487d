"""What the bot keeps between two updates of one person: small, JSON, identity-free.

It lives in the FSM storage under an HMAC pseudonym and expires with it. Message ids
are kept only as a range (the first one of this conversation), so a quick exit can
delete the whole conversation without the state growing with it, plus at most three
older screens, which Telegram no longer lets it delete but still lets it blank.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from bot.sealing import seal, unseal
from dialogs.engine import State

DELETABLE_SECONDS = 48 * 3600
"""Telegram lets a bot delete messages in a private chat for 48 hours."""
OLD_SCREENS = 3
"""How many screens older than that a quick exit still blanks (by editing them)."""


class Session(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    locale: str | None = Field(default=None, alias="l")
    state: State | None = Field(default=None, alias="s")
    first_message: int | None = Field(default=None, alias="f")
    """The first message id of this conversation in the chat (the bot's or the person's)."""
    first_hour: int | None = Field(default=None, alias="h")
    """When that message was sent, to the hour: enough to respect the 48-hour limit."""
    screen_message: int | None = Field(default=None, alias="m")
    """The message that shows the current screen, edited in place on button presses."""
    old_screens: list[int] | None = Field(default=None, alias="o")
    """Earlier screens that went out of the deletable range (at most `OLD_SCREENS`, newest
    last): a quick exit can no longer delete them, but still edits them to a neutral line."""
    protected: bool | None = Field(default=None, alias="q")
    """That message was sent with protect_content (it shows the code or replies)."""
    shown: str | None = Field(default=None, alias="k")
    """Fingerprint of what that message shows, to skip edits that would change nothing."""
    composing: bool | None = Field(default=None, alias="c")
    """The next text is an answer to relay to the association."""
    preview: bool | None = Field(default=None, alias="p")
    """A moderator walking the unapproved files (/preview); /start leaves it."""

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Session:
        return cls.model_validate(data) if data else cls()

    def to_data(self) -> dict[str, Any]:
        self._seal()
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")

    def track(self, message_id: int, unix_time: int) -> None:
        """Remember that this conversation reaches back to `message_id`.

        Once the start is too old to delete, the range restarts here: older messages are
        out of reach anyway, and the newer ones stay deletable.
        """
        too_old = self.first_hour is not None and unix_time - self.first_hour * 3600 > DELETABLE_SECONDS - 3600
        if self.first_message is None or too_old:
            self.first_message = message_id
            self.first_hour = unix_time // 3600

    def replace_screen(self, message_id: int) -> None:
        """`message_id` shows the screen from now on; remember the previous one if it can no
        longer be deleted (it still shows the last screen it held)."""
        previous = self.screen_message
        if previous is not None and (self.first_message is None or previous < self.first_message):
            self.old_screens = [*(self.old_screens or []), previous][-OLD_SCREENS:]
        self.screen_message = message_id

    def deletable_range(self, last_message: int, now: int) -> range:
        """Message ids a quick exit may delete: the conversation, while under 48 hours old."""
        if self.first_message is None or self.first_hour is None:
            return range(0)
        if now - self.first_hour * 3600 > DELETABLE_SECONDS:
            return range(0)
        return range(self.first_message, last_message + 1)

    # -- the ticket's code, and the associations not to offer again: sealed ------------
    # In the state they are one sealed string (bot.sealing); in clear only in this
    # object, during one update, once `unlock` was given this person's key.

    sealed: str | None = Field(default=None, alias="t")
    """`code|slug slug`, sealed. States written before sealing hold a clear code here."""
    _code: str | None = PrivateAttr(default=None)
    _skip: tuple[str, ...] = PrivateAttr(default=())
    _key: Callable[[], bytes] | None = PrivateAttr(default=None)

    def unlock(self, key: Callable[[], bytes]) -> bool:
        """Open the sealed part with this person's key (derived only when needed). False
        when it does not open (sealed for someone else, or under another secret): it is
        then dropped."""
        self._key = key
        if self.sealed is None:
            return True
        if LEGACY_CODE.fullmatch(self.sealed):  # an older state: kept in clear, sealed at save
            self._code, self.sealed = self.sealed, None
            return True
        opened = unseal(key(), self.sealed)
        if opened is None or "|" not in opened:
            self.sealed = None
            return False
        code, slugs = opened.split("|", 1)
        self._code, self._skip = code or None, tuple(slugs.split())
        return True

    @property
    def ticket(self) -> str | None:
        """The code of the ticket made in this conversation, until it expires or is forgotten."""
        return self._code

    @ticket.setter
    def ticket(self, code: str | None) -> None:
        if code != self._code:  # resealed at save; unchanged, the state is not rewritten
            self._code, self.sealed = code, None

    @property
    def skip(self) -> tuple[str, ...]:
        """Associations not to offer this person again (they declined or passed on an
        earlier request of this conversation): until the state expires, never in the database."""
        return self._skip

    @skip.setter
    def skip(self, slugs: tuple[str, ...]) -> None:
        if tuple(slugs) != self._skip:
            self._skip, self.sealed = tuple(slugs), None

    def _seal(self) -> None:
        if self.sealed is not None or (self._code is None and not self._skip):
            return
        if self._key is None:
            raise RuntimeError("a ticket is held but the session was not unlocked: refusing to store it in clear")
        self.sealed = seal(self._key(), f"{self._code or ''}|{' '.join(self._skip)}")


LEGACY_CODE = re.compile(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}")
"""A ticket code in clear, as states held it before it was sealed."""
