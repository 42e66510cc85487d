"""What the bot keeps between two updates of one person: small, JSON, identity-free.

It lives in the FSM storage under an HMAC pseudonym and expires with it. Message ids
are kept only as spans (the first id of each stretch of at most six hours, and the
hours it covers), so a quick exit knows which messages Telegram still lets it delete
without the state growing with the conversation; plus the few bot messages it may have
to blank instead, when they are too old to delete.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from bot.state.sealing import seal, unseal
from dialogs.engine import State

DELETABLE_SECONDS = 48 * 3600
"""Telegram lets a bot delete messages in a private chat for 48 hours."""
SAFETY_SECONDS = 3600
"""A message this close to the limit may be too old by the time the deletion reaches it."""
SPAN_HOURS = 6
"""A new span starts when a message comes this many hours after its span's first one."""
MAX_SPANS = 12
"""Spans kept at most: 48 hours of six-hour spans, and some room; the oldest merge beyond."""
OLD_SCREENS = 4
"""Earlier bot messages kept, to blank them if they are too old to delete by the exit."""
Reach = Literal["deletable", "too_old", "unknown"]


def reach(spans: list[list[int]], message_id: int, now: int) -> Reach:
    """Whether Telegram still lets the bot delete `message_id`, as far as the spans tell.

    Ids grow with time in a chat, so a message of span [id, first hour, last hour] was
    sent within those hours. An id below every span is not of this conversation.
    """
    if not spans or message_id < spans[0][0]:
        return "unknown"
    _, first_hour, last_hour = next(span for span in reversed(spans) if span[0] <= message_id)
    if now - first_hour * 3600 < DELETABLE_SECONDS - SAFETY_SECONDS:
        return "deletable"
    if _too_old(last_hour, now):
        return "too_old"
    return "unknown"


def first_deletable(spans: list[list[int]], now: int) -> int | None:
    """The first id of the first span some of whose messages may still be deleted."""
    for span_id, _first, last_hour in spans:
        if not _too_old(last_hour, now):
            return span_id
    return None


def _too_old(last_hour: int, now: int) -> bool:
    """Every message sent up to the end of `last_hour` is past Telegram's 48 hours."""
    return now - (last_hour + 1) * 3600 >= DELETABLE_SECONDS


class Memory(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    locale: str | None = Field(default=None, alias="l")
    state: State | None = Field(default=None, alias="s")
    spans: list[list[int]] | None = Field(default=None, alias="r")
    """[first message id, first hour, last hour] of each stretch of this conversation, oldest
    first (hours since the epoch): enough to know what Telegram still lets a bot delete."""
    screen_message: int | None = Field(default=None, alias="m")
    """The message that shows the current screen, edited in place on button presses."""
    old_screens: list[int] | None = Field(default=None, alias="o")
    """Earlier bot messages still in the chat (replaced screens, lines said; at most
    `OLD_SCREENS`, newest last): a quick exit blanks those too old to delete."""
    protected: bool | None = Field(default=None, alias="q")
    """That message was sent with protect_content (it shows the code or replies)."""
    shown: str | None = Field(default=None, alias="k")
    """Fingerprint of what that message shows, to skip edits that would change nothing."""
    composing: bool | None = Field(default=None, alias="c")
    """The next text is an answer to relay to the association."""
    preview: bool | None = Field(default=None, alias="p")
    """A moderator walking the unapproved files (/preview); /start leaves it."""

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Memory:
        return cls.model_validate(data) if data else cls()

    def to_data(self) -> dict[str, Any]:
        self._seal()
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")

    @model_validator(mode="before")
    @classmethod
    def _from_first_message(cls, data: Any) -> Any:
        """A state written before spans (first id and hour): one span, its end unknown."""
        if isinstance(data, dict) and "f" in data and "h" in data and "r" not in data:
            data = {**data, "r": [[data["f"], data["h"], data["h"] + DELETABLE_SECONDS // 3600]]}
        return data

    def track(self, message_id: int, unix_time: int) -> None:
        """Remember that message `message_id` of this conversation was sent at `unix_time`.

        A span covers at most `SPAN_HOURS`; spans past 48 hours merge into one, which still
        tells which old screens to blank. So the spans stay few, however long the conversation.
        """
        hour = unix_time // 3600
        spans = self.spans or []
        if not spans or hour - spans[-1][1] >= SPAN_HOURS:
            if spans and message_id < spans[-1][0]:
                return  # an older message, arriving late: its span already covers it
            spans.append([message_id, hour, hour])
        else:
            spans[-1][2] = max(spans[-1][2], hour)
        old = 0
        while old < len(spans) - 1 and _too_old(spans[old][2], unix_time):
            old += 1
        if old > 1:
            spans[:old] = [[spans[0][0], spans[0][1], spans[old - 1][2]]]
        while len(spans) > MAX_SPANS:
            spans[0:2] = [[spans[0][0], spans[0][1], spans[1][2]]]
        self.spans = spans

    def replace_screen(self, message_id: int) -> None:
        """`message_id` shows the screen from now on; the previous one still shows the last
        screen it held, so it is remembered among the bot's earlier messages."""
        if self.screen_message is not None:
            self.remember(self.screen_message)
        self.screen_message = message_id

    def remember(self, message_id: int) -> None:
        """A bot message other than the screen: a quick exit blanks it if too old to delete."""
        self.old_screens = [*(self.old_screens or []), message_id][-OLD_SCREENS:]

    def newest(self) -> int | None:
        """The highest message id this state knows."""
        known = [span[0] for span in self.spans or []] + (self.old_screens or [])
        if self.screen_message is not None:
            known.append(self.screen_message)
        return max(known, default=None)

    # -- the ticket's code, and the associations not to offer again: sealed ------------
    # In the state they are one sealed string (bot.state.sealing); in clear only in this
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
            raise RuntimeError("a ticket is held but the memory was not unlocked: refusing to store it in clear")
        self.sealed = seal(self._key(), f"{self._code or ''}|{' '.join(self._skip)}")


LEGACY_CODE = re.compile(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}")
"""A ticket code in clear, as states held it before it was sealed."""
