"""Screens from the engine, turned into one Telegram message with an inline keyboard.

All text is translated here and HTML-escaped: scripts are plain text, so nothing a
moderator writes can break Telegram's parser.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from html import escape

from aiogram.types import InlineKeyboardButton

from bot import texts
from bot.callbacks import EXIT, PICKER, LanguagePick
from bot.transport.session import PreparedKeyboard
from dialogs.engine import Button, Screen
from dialogs.events import Event, EventOp
from dialogs.i18n import Translator
from dialogs.languages import autonym

RENDER_CACHE = 4096
"""Rendered screens kept: a screen is a pure function of (screen, language, version, notice)."""


@dataclass(frozen=True, slots=True)
class Rendered:
    """One message: HTML text and its inline keyboard. Shared between people: never mutate."""

    text: str
    markup: PreparedKeyboard
    """Serialised once, the first time it is sent (see bot.transport.session)."""
    fingerprint: str
    """Short digest of text and buttons, to avoid "message is not modified" edits."""

    def extended(
        self, text: str = "", rows: list[list[InlineKeyboardButton]] | None = None, *, first: bool = False
    ) -> Rendered:
        """This screen with text added below, and rows added above the footer, or above every
        row when `first` (a new object)."""
        keyboard = [list(row) for row in self.markup.inline_keyboard]
        keyboard[0 if first else -1 : 0 if first else -1] = rows or []
        return Rendered.of(f"{self.text}\n\n{text}" if text else self.text, keyboard)

    @classmethod
    def of(cls, text: str, rows: list[list[InlineKeyboardButton]]) -> Rendered:
        flat = [(b.text, b.callback_data or "") for row in rows for b in row]
        digest = hashlib.blake2s(repr((text, flat)).encode(), digest_size=8).hexdigest()
        return cls(text, PreparedKeyboard(inline_keyboard=rows), digest)


def button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data)


def footer(tr: Translator, version: str) -> list[InlineKeyboardButton]:
    """Emergency, language and quick exit: on every screen, one tap away."""
    return [
        button(tr.gettext(texts.EMERGENCY), Event(EventOp.EMERGENCY).encode(version)),
        button(tr.gettext(texts.LANGUAGE), PICKER),
        button(tr.gettext(texts.QUICK_EXIT), EXIT),
    ]


def button_text(b: Button, tr: Translator) -> str:
    """A script button: ticked when chosen, translated, and a place's hint after it."""
    text = ("✓ " if b.selected else "") + tr.gettext(b.label)
    return f"{text} · {texts.place_hint(b.hint, tr)}" if b.hint else text


@lru_cache(maxsize=RENDER_CACHE)
def render_screen(
    screen: Screen, tr: Translator, version: str, notice: str | None = None, preamble: str | None = None
) -> Rendered:
    """`preamble` (HTML) goes above the screen's own text: on the consent screen, what would be sent and to whom."""
    _ = tr.gettext
    parts: list[str] = []
    if notice:
        parts.append(f"<i>{escape(_(notice))}</i>")
    if preamble:
        parts.append(preamble)
    if screen.text:
        parts.append(escape(_(screen.text)))
    rows = [[button(button_text(b, tr), b.event.encode(version)) for b in row] for row in screen.rows]
    rows.append(footer(tr, version))
    return Rendered.of("\n\n".join(parts), rows)


@lru_cache(maxsize=RENDER_CACHE)
def render_picker(
    locales: tuple[str, ...], prompts: tuple[str, ...], tr: Translator, version: str, notice: str | None = None
) -> Rendered:
    """Each language by its own name, two a row; no flags (a flag is not a language).

    `prompts` is "choose your language" in every language, since we may not know theirs.
    The footer keeps emergency and quick exit: the picker is the first screen for anyone
    whose Telegram language we do not have.
    """
    buttons = [button(autonym(loc), LanguagePick(locale=loc).pack()) for loc in locales]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append([b for b in footer(tr, version) if b.callback_data != PICKER])
    text = "\n".join(escape(p) for p in dict.fromkeys(prompts))
    if notice:
        text = f"<i>{escape(tr.gettext(notice))}</i>\n\n{text}"
    return Rendered.of(text, rows)
