"""Mechanical checks of every catalogue, so a translation mistake fails here, not in front of a person."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.catalog import Message
from babel.messages.pofile import read_po

from bot import texts
from dialogs.extract import BUTTON_NOTE
from dialogs.i18n import LOCALES_DIR, compile_po
from dialogs.telegram_text import MESSAGE_LIMIT, utf16_len

CATALOGUES = sorted(LOCALES_DIR.glob("*/LC_MESSAGES/messages.po"))
LOCALES = [po.parent.parent.name for po in CATALOGUES]
BUTTON_LIMIT = 40
"""A full-width inline button on a common phone shows about 35-40 Latin characters before
Telegram cuts it with an ellipsis; our French labels stay within that, so must translations."""
LIMITS = {texts.DESCRIPTION: 512, texts.SHORT_DESCRIPTION: 120}
"""setMyDescription and setMyShortDescription limits; command descriptions have 256."""
COMMAND_LIMIT = 256
PLACEHOLDER = re.compile(r"\{\w*\}|%\(\w+\)[sd]|%[sd]")


def entries(po: Path) -> list[Message]:
    with po.open("rb") as handle:
        return [m for m in read_po(handle, abort_invalid=True) if m.id]


def forms(message: Message) -> tuple[str, ...]:
    return message.string if isinstance(message.string, tuple) else (message.string,)


def source(message: Message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def test_there_is_a_catalogue_for_every_language_but_french() -> None:
    assert sorted(LOCALES) == sorted(["en", "ro", "bg", "zh_Hans", "es", "pt_BR", "ar", "ru", "uk", "hu", "sq", "pcm"])


@pytest.mark.parametrize("po", CATALOGUES, ids=LOCALES)
def test_header_names_the_language_and_its_plural_forms(po: Path) -> None:
    with po.open("rb") as handle:
        catalog = read_po(handle, abort_invalid=True)
    locale = po.parent.parent.name
    assert str(catalog.locale) == locale
    headers = dict(catalog.mime_headers)
    assert headers.get("Language") == locale
    expected = len(Locale.parse(locale).plural_form.tags)
    assert f"nplurals={catalog.num_plurals}" in headers["Plural-Forms"]
    assert catalog.num_plurals >= min(expected, 2) or expected == 1


@pytest.mark.parametrize("po", CATALOGUES, ids=LOCALES)
def test_placeholders_are_kept(po: Path) -> None:
    wrong = [
        source(m)
        for m in entries(po)
        for form in forms(m)
        if form and sorted(PLACEHOLDER.findall(form)) != sorted(PLACEHOLDER.findall(source(m)))
    ]
    assert wrong == []


@pytest.mark.parametrize("po", CATALOGUES, ids=LOCALES)
def test_translations_fit_telegram(po: Path) -> None:
    too_long = []
    for message in entries(po):
        limit = LIMITS.get(source(message), MESSAGE_LIMIT)
        if source(message) in {texts.CMD_START, texts.CMD_LANGUAGE, texts.CMD_HELP, texts.CMD_EXIT, texts.CMD_FORGET}:
            limit = COMMAND_LIMIT
        if any(BUTTON_NOTE in comment for comment in message.auto_comments):
            limit = BUTTON_LIMIT
        too_long += [f"{source(message)!r}: {utf16_len(f)} > {limit}" for f in forms(message) if utf16_len(f) > limit]
    assert too_long == []


def test_french_buttons_fit_too() -> None:
    template = entries(LOCALES_DIR / "messages.pot")
    buttons = [m for m in template if any(BUTTON_NOTE in c for c in m.auto_comments)]
    assert len(buttons) > 20
    assert [source(m) for m in buttons if len(source(m)) > BUTTON_LIMIT] == []


@pytest.mark.parametrize("po", CATALOGUES, ids=LOCALES)
def test_compiled_catalogue_matches_the_po(po: Path) -> None:
    compiled = compile_po(po)
    for message in entries(po):
        if isinstance(message.id, tuple):
            continue
        expected = message.id if message.fuzzy or not message.string else message.string
        assert compiled.gettext(message.id) == expected


@pytest.mark.parametrize("po", CATALOGUES, ids=LOCALES)
def test_no_fuzzy_entry_ships(po: Path) -> None:
    """Fuzzy means stale: it would show French. Review it, or clear it, before release."""
    assert [source(m) for m in entries(po) if m.fuzzy] == []


HELPLINE = "Allô Enfance en Danger"
"""A name that must not break across two phone lines: written with non-breaking spaces."""


@pytest.mark.parametrize("po", CATALOGUES, ids=LOCALES)
def test_the_child_helpline_name_holds_together(po: Path) -> None:
    """Arabic keeps plain spaces: dialogs.i18n isolates Latin words joined by plain spaces as
    one left-to-right run, and a non-breaking space would split the name into runs."""
    if po.parent.parent.name == "ar":
        pytest.skip("Arabic isolates the name as one run, joined by plain spaces")
    broken = [source(m) for m in entries(po) for form in forms(m) if HELPLINE in form]
    assert broken == [], "write Allô\u00a0Enfance\u00a0en\u00a0Danger"
