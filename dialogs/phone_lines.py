"""How many lines a text takes on a small phone, so script writers can keep screens short.

The measure is deliberately simple and pure: a line holds `PHONE_WIDTH` columns; a wide
character (Chinese, most emoji) takes two; words wrap whole, at spaces, and a word longer
than a line is cut; Chinese wraps between any two characters; every line break of the text
starts a new line and an empty line counts as one. Telegram's real layout varies with the
phone and the font, so this is a budget, not a pixel-exact count.
"""

from __future__ import annotations

import re
import unicodedata

PHONE_WIDTH = 34
"""Latin characters on one line of a Telegram message on a small phone."""
SCREEN_LINES = 14
"""Lines a person reads before the buttons without scrolling: a screen's text fits in this."""
CONSENT_LINES = 36
"""The consent screen cannot fit `SCREEN_LINES`: the person must read everything the notice
would carry, one line each (12 to 14 lines with two needs: answers, language, request number,
reference), then who would receive it (name, town, contact details, how far: up to 10 lines),
before saying yes. Measured at 25 to 36 lines in 2026-12 (two needs, the longest card); this
limit keeps it from growing further."""
BIDI_CONTROLS = re.compile("[\u200e\u200f\u2066-\u2069\u202a-\u202e]")
"""Direction marks and isolates take no room on screen."""


def columns(text: str) -> int:
    """Columns a piece of text takes: two for wide characters, none for direction marks."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in BIDI_CONTROLS.sub("", text))


def _pieces(paragraph: str) -> list[str]:
    """Units that wrap whole: words with their trailing space, and each wide character alone."""
    pieces: list[str] = []
    for word in re.findall(r"[^ ]+ *", paragraph):
        start = 0
        for index, ch in enumerate(word):
            if unicodedata.east_asian_width(ch) in "WF":
                if word[start:index]:
                    pieces.append(word[start:index])
                pieces.append(ch)
                start = index + 1
        if word[start:]:
            pieces.append(word[start:])
    return pieces


def wrapped_lines(paragraph: str, width: int = PHONE_WIDTH) -> int:
    """Lines one paragraph (no line break in it) takes when wrapped at `width` columns."""
    lines, used = 1, 0
    for piece in _pieces(paragraph):
        word = piece.rstrip()
        size, trailing = columns(word), columns(piece) - columns(word)
        if used and used + size > width:
            lines, used = lines + 1, 0
        while size > width:  # a word longer than a line is cut
            lines, size = lines + 1, size - width
        used += size + trailing
    return lines


def phone_lines(text: str, width: int = PHONE_WIDTH) -> int:
    """Lines `text` takes on a phone `width` columns wide (see the module docstring)."""
    return sum(wrapped_lines(paragraph, width) for paragraph in text.strip("\n").split("\n"))
