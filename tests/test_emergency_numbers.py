"""The numbers a person may call are the French source's, in every language (issue 14 item 9).

A translation that drops, changes or adds a digit could send someone in danger to a wrong
number; nothing else in the catalogue checks digits. The guard reads the `.po` files as the bot
serves them (fuzzy entries are not served, so they are not read either).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.catalog import Message
from babel.messages.pofile import read_po

from dialogs.i18n import LOCALES_DIR
from tests.test_catalogues import CATALOGUES, LOCALES

EMERGENCY_NUMBERS = frozenset({"17", "112", "114", "115", "119"})
"""Police, European emergency, SMS, shelter (115) and under-18 (119) lines in France."""
NUMBER = re.compile(r"\d+")
CHINESE_DATE = re.compile(r"(\d+)\s*年\s*\d+\s*月\s*(\d+)\s*日")
"""A Chinese date writes the month as a number ("2016 年 4 月 13 日"), where French names it."""


def numbers(text: str) -> Counter[str]:
    return Counter(NUMBER.findall(CHINESE_DATE.sub(r"\1 \2", text)))


def served(po: Path) -> list[tuple[str, str]]:
    """(French source, translation) for every translated, non-fuzzy form."""
    with po.open("rb") as handle:
        messages: list[Message] = [m for m in read_po(handle) if m.id and not m.fuzzy]
    pairs = []
    for message in messages:
        sources = message.id if isinstance(message.id, tuple) else (message.id,)
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        pairs += [(sources[min(i, len(sources) - 1)], form) for i, form in enumerate(forms) if form]
    return pairs


def test_the_source_has_every_emergency_number() -> None:
    with (LOCALES_DIR / "messages.pot").open("rb") as handle:
        found = {n for m in read_po(handle) if isinstance(m.id, str) for n in NUMBER.findall(m.id)}
    assert found >= EMERGENCY_NUMBERS


@pytest.mark.parametrize("po", CATALOGUES, ids=LOCALES)
def test_emergency_entries_keep_exactly_the_source_numbers(po: Path) -> None:
    """The emergency, shelter and under-18 entries (any entry whose source gives one of these
    numbers) carry the same numbers, as many times as the source."""
    checked, wrong = 0, []
    for source, translation in served(po):
        wanted = +Counter({n: c for n, c in numbers(source).items() if n in EMERGENCY_NUMBERS})
        if wanted:
            checked += 1
            got = +Counter({n: c for n, c in numbers(translation).items() if n in EMERGENCY_NUMBERS})
            if got != wanted:
                wrong.append(f"{source[:50]!r}: {dict(got)} instead of {dict(wanted)}")
    assert checked >= 4, "the emergency, shelter, under-18 and help entries are all translated"
    assert wrong == []


@pytest.mark.parametrize("po", CATALOGUES, ids=LOCALES)
def test_no_translation_adds_a_number(po: Path) -> None:
    added = [
        f"{source[:50]!r}: {sorted((numbers(translation) - numbers(source)).elements())}"
        for source, translation in served(po)
        if numbers(translation) - numbers(source)
    ]
    assert added == []


def test_the_guard_sees_a_changed_number() -> None:
    assert numbers("Appelez le 119.") != numbers("Sunați la 118.")
    assert numbers("2016 年 4 月 13 日") == numbers("13 avril 2016"), "a Chinese month is not an added number"
