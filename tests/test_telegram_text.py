"""Lengths as Telegram counts them (UTF-16 units of the visible text), and the mailbox pages built on them."""

from __future__ import annotations

import pytest

from bot import texts
from bot.callbacks import MailboxPage
from bot.conversation.mailbox import CONTINUED, MAX_REPLY, REPLY, Page, paginate, render_page
from bot.handoff import STATUS_TEXT
from dialogs.telegram_text import MESSAGE_LIMIT, cut, fits, utf16_len, visible_len
from tests.support.walks import CATALOGS


def test_utf16_length() -> None:
    assert [utf16_len(t) for t in ("a", "é", "字", "😀", "𠀀", "👩‍👩‍👧")] == [1, 1, 1, 2, 2, 8]
    assert fits("😀" * 2048) and not fits("😀" * 2048 + "x")


def test_visible_length_of_our_html() -> None:
    assert visible_len("<b>a&lt;😀</b>\n<i>&amp;&#x27;</i>") == 7


def test_cut_never_splits_a_character_and_prefers_a_space() -> None:
    assert cut("😀😀😀", 3) == ("😀", "😀😀")
    assert cut("aaaaaa bbbb", 9) == ("aaaaaa ", "bbbb")
    assert cut("abc", 10) == ("abc", "")
    assert cut("😀x", 1) == ("😀", "x"), "a limit under one character still makes progress"


@pytest.mark.parametrize("filler", ["x", "😀", "字 "])
def test_pages_stay_within_their_room_and_lose_nothing(filler: str) -> None:
    bodies = [f"{n} " + filler * (500 * n) for n in range(1, 9)]
    pages = paginate(bodies, 1000)
    assert all(sum(utf16_len(p) for p in page) + 2 * (len(page) - 1) <= 1000 for page in pages)
    pieces = [piece for page in pages for piece in page]
    joined = "".join(p.removeprefix(CONTINUED) for p in pieces)
    assert joined == "".join(REPLY + body for body in reversed(bodies)), "newest first, every character kept"


def worst_heading(locale: str) -> list[str]:
    """The longest heading a mailbox page can have in this language."""
    tr = CATALOGS.get(locale)
    notices = sorted(
        (tr.gettext(m) for m in (texts.RELAYED, texts.UPDATED, texts.EXPIRED, texts.RELAY_TOO_LONG)), key=len
    )
    status = max((tr.gettext(m) for m in STATUS_TEXT.values()), key=len)
    return [
        f"<i>{notices[-1]}\n{notices[-2]}</i>",
        f"{tr.gettext(texts.YOUR_CODE)} <b>{tr.isolate('XXXX-XXXX-XXXX')}</b>",
        status,
        f"<b>{tr.ngettext(*texts.REPLIES, 999).format(n=999)}</b>",
    ]


@pytest.mark.parametrize("locale", CATALOGS.locales)
def test_the_longest_reply_fits_one_page_in_every_language(locale: str) -> None:
    tr = CATALOGS.get(locale)
    longest = ["😀" * (MAX_REPLY // 2), "字" * MAX_REPLY]
    first = render_page(tr, worst_heading(locale), longest, 0)
    second = render_page(tr, worst_heading(locale), longest, 1)
    assert longest[1] in first.text and longest[0] in second.text
    assert visible_len(first.text) <= MESSAGE_LIMIT and visible_len(second.text) <= MESSAGE_LIMIT


def test_a_reply_stored_before_the_limit_is_read_over_several_pages() -> None:
    tr = CATALOGS.get("fr")
    legacy = "😀" * 3500  # 3,500 code points were once accepted: 7,000 units
    shown: list[Page] = []
    while not shown or any(b.callback_data == MailboxPage(page=len(shown)).pack() for b in shown[-1].navigation):
        shown.append(render_page(tr, worst_heading("fr"), [legacy], len(shown)))
    assert len(shown) == 2 and all(visible_len(page.text) <= MESSAGE_LIMIT for page in shown)
    assert sum(page.text.count("😀") for page in shown) == 3500, "every emoji, none twice"
