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
CONSENT_LINES = 19
"""The consent screen as it shows before any tap. Everything the notice would carry (12 to
14 lines with two needs) and the recipient's card are folded quotes (bot.handoff.folded), so
it shows 13 to 15 lines in 2026-12; 19 after a decline, when two lines say why another
association is offered. Unfolded it takes 25 to 35: that is why it is folded."""
FOLDED_LINES = 3
"""Lines a folded (expandable) quote shows before a tap opens it, as Telegram draws it."""
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


def shown_lines(text: str, folded: list[tuple[int, int]], width: int = PHONE_WIDTH) -> int:
    """Lines `text` shows before anything is tapped: each (start, end) slice of it, in code
    points, is a folded quote and shows at most FOLDED_LINES. A quote is a block of its own."""
    total, at = 0, 0
    for start, end in sorted(folded):
        total += phone_lines(text[at:start], width) if text[at:start].strip("\n") else 0
        total += min(FOLDED_LINES, phone_lines(text[start:end], width))
        at = end
    rest = text[at:]
    return total + (phone_lines(rest, width) if rest.strip("\n") else 0)
