"""Telegram's text limits, counted the way Telegram counts: in UTF-16 code units of the text
a person sees (after HTML tags and entities are parsed).

Python's `len()` counts code points, so an emoji or a CJK character outside the Basic
Multilingual Plane looks like one character to it and two to Telegram: a text that passes
`len()` can still be refused. Every length checked against a Telegram limit goes through
here, in the scripts, the catalogues and the bot alike (pure: no aiogram, no database).
"""

from __future__ import annotations

import re
from html import unescape

MESSAGE_LIMIT = 4096
"""sendMessage and editMessageText: 1-4096 characters after entities parsing."""
_TAG = re.compile(r"<[^>]*>")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: one per character, two for those outside the BMP."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def visible_len(html: str) -> int:
    """Length Telegram counts for text sent with parse_mode HTML: tags dropped, entities decoded.

    Meant for the HTML the bot builds itself, where every `<` of a text is escaped.
    """
    return utf16_len(unescape(_TAG.sub("", html)))


def fits(text: str, limit: int = MESSAGE_LIMIT) -> bool:
    return utf16_len(text) <= limit


def cut(text: str, limit: int) -> tuple[str, str]:
    """`text` split in two: the longest head within `limit` units, ending at a space or a line
    break when there is one in its second half, and the rest. Never splits a character."""
    units = 0
    end = len(text)
    for index, ch in enumerate(text):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > limit:
            end = index
            break
    if end == len(text):
        return text, ""
    end = max(end, 1)  # a limit under one character still makes progress
    space = max(text.rfind(" ", 0, end), text.rfind("\n", 0, end))
    if space > end // 2:
        end = space + 1
    return text[:end], text[end:]
