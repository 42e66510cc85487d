"""Random codes people type: ticket codes and enrollment codes share one alphabet and rules.

Only hashes are stored. The codes carry 50 bits or more, so a plain sha256 leaves no
small space to try, unlike Telegram ids.
"""

from __future__ import annotations

import hashlib
import re
import secrets

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
"""32 symbols without look-alikes (no 0/O, 1/I): 5 bits each."""
MAX_TYPED = 40
_SEPARATOR_CLASS = "[\\s\\-–—_.\uff0d\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]"
"""Spaces and dashes (full-width too), and the invisible characters that right-to-left
keyboards, isolates or a paste put in a code: read past when a code is typed, and when one
is masked."""
_SEPARATORS = re.compile(_SEPARATOR_CLASS)
LOOK_ALIKES = {
    "A": "АΑ",
    "B": "ВΒ",
    "C": "С",
    "E": "ЕΕ",
    "H": "НΗ",
    "K": "КΚ",
    "M": "МΜ",
    "N": "Ν",
    "P": "РΡ",
    "T": "ТΤ",
    "X": "ХΧ",
    "Y": "УΥ",
    "Z": "Ζ",
    "3": "З",
}
"""Cyrillic and Greek letters that read as a code's symbol: a Cyrillic keyboard types them."""
_HIDDEN_SEPARATORS = _SEPARATOR_CLASS + "*"


def generate(groups: int, group_length: int) -> str:
    """`groups` groups of `group_length` random symbols, joined by dashes."""
    symbols = "".join(secrets.choice(ALPHABET) for _ in range(groups * group_length))
    return "-".join(symbols[i : i + group_length] for i in range(0, len(symbols), group_length))


def read(text: str, length: int) -> str | None:
    """The symbols of a typed code ('abcd efgh-jkmn' -> 'ABCDEFGHJKMN'), or None if it is not one."""
    if len(text) > MAX_TYPED:
        return None
    compact = _SEPARATORS.sub("", text).upper()
    if len(compact) != length or any(symbol not in ALPHABET for symbol in compact):
        return None
    return compact


def digest(symbols: str) -> str:
    return hashlib.sha256(symbols.encode()).hexdigest()


def masked(text: str, code: str, mark: str) -> str:
    """`text` with `code` replaced by `mark` wherever it appears, in any case and with any
    separators: a code pasted into a message bound for a group must not reach it. Also
    spelled with look-alikes, full-width forms or invisible characters, which a reader
    still reads as the code."""
    symbols = _SEPARATORS.sub("", code).upper()
    spelled = _HIDDEN_SEPARATORS.join(_forms(symbol) for symbol in symbols)
    return re.sub(spelled, mark, text, flags=re.IGNORECASE)


def _forms(symbol: str) -> str:
    """A character class for every way `symbol` reads: itself, its look-alikes, its full-width form."""
    return f"[{re.escape(symbol + LOOK_ALIKES.get(symbol, '') + chr(ord(symbol) + 0xFEE0))}]"
