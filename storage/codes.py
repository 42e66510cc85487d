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
_SEPARATORS = re.compile(r"[\s\-–—_.\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
"""Besides spaces and dashes, the invisible marks right-to-left keyboards and isolates put in a code."""


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
    separators: a code pasted into a message bound for a group must not reach it."""
    symbols = _SEPARATORS.sub("", code).upper()
    spelled = f"{_SEPARATORS.pattern}*".join(re.escape(symbol) for symbol in symbols)
    return re.sub(spelled, mark, text, flags=re.IGNORECASE)
