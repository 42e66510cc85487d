"""The mailbox screen: a ticket's status and its replies, newest first, one page at a time.

All replies in one message would sooner or later pass Telegram's 4096 units and be refused,
and the mailbox would never open again. So replies are packed into pages, each one message
within the limit (counted in UTF-16 units, as Telegram does), shown one at a time on the one
mailbox screen with ◀ ▶ buttons: the chat stays short, the quick exit has one message to
delete, and the page number lives in the buttons' callback data, not in the state.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from aiogram.types import InlineKeyboardButton

from bot import texts
from bot.callbacks import MailboxPage
from bot.render import button
from dialogs.i18n import Translator
from dialogs.telegram_text import MESSAGE_LIMIT, cut, utf16_len, visible_len

MAX_REPLY = 3500
"""The longest staff reply, in UTF-16 units: with the mailbox's heading it fits one page
(test_mailbox checks it in every language). Longer ones are refused, never cut."""
SEPARATOR = "\n\n"
REPLY = "💬 "
CONTINUED = "… "
"""Starts the next part of a reply too long for one page (only replies stored before the limit)."""
WIDEST_PAGE = 999_999
"""Page numbers are reserved room this wide, so a label never pushes a page over the limit."""


@dataclass(frozen=True)
class Page:
    text: str
    """HTML: the heading, then this page's replies."""
    navigation: list[InlineKeyboardButton]
    """◀ newer and older ▶, as far as there are any."""


def paginate(bodies: list[str], room: int) -> list[list[str]]:
    """Replies, newest first, packed into pages of at most `room` UTF-16 units each (with the
    separators); a reply longer than a page goes on over the next ones. At least one page."""
    pages: list[list[str]] = [[]]
    used = 0
    for body in reversed(bodies):
        for piece in _pieces(REPLY + body, room):
            size = utf16_len(piece)
            extra = size + (utf16_len(SEPARATOR) if pages[-1] else 0)
            if pages[-1] and used + extra > room:
                pages.append([])
                used, extra = 0, size
            pages[-1].append(piece)
            used += extra
    return pages


def _pieces(block: str, room: int) -> list[str]:
    head, rest = cut(block, room)
    pieces = [head]
    while rest:
        head, rest = cut(rest, room - utf16_len(CONTINUED))
        pieces.append(CONTINUED + head)
    return pieces


def render_page(tr: Translator, heading: list[str], bodies: list[str], page: int) -> Page:
    """Page `page` (clamped) of the mailbox: `heading` (HTML lines) and the replies `bodies`
    (plain text, oldest first), within Telegram's limit whatever their length."""
    label = _label(tr, WIDEST_PAGE, WIDEST_PAGE)
    room = MESSAGE_LIMIT - visible_len(SEPARATOR.join([*heading, label, ""]))
    pages = paginate(bodies, room)
    page = min(max(page, 0), len(pages) - 1)
    parts = list(heading)
    if len(pages) > 1:
        parts.append(_label(tr, page + 1, len(pages)))
    parts += [escape(piece) for piece in pages[page]]
    navigation = []
    if page > 0:
        navigation.append(button(tr.gettext(texts.NEWER), MailboxPage(page=page - 1).pack()))
    if page < len(pages) - 1:
        navigation.append(button(tr.gettext(texts.OLDER), MailboxPage(page=page + 1).pack()))
    return Page(SEPARATOR.join(parts), navigation)


def _label(tr: Translator, page: int, pages: int) -> str:
    return f"<i>{escape(tr.gettext(texts.PAGE).format(page=page, pages=pages))}</i>"
