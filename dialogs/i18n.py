"""Catalogues compiled in memory from the `.po` files at start-up.

Compiling at load time means a stale `.mo` can never be served: the `.po` a moderator
reviewed is the only source. Fuzzy entries are left out, so the French source shows
instead, as gettext intends.
"""

from __future__ import annotations

import datetime as dt
import gettext
import re
from collections.abc import Mapping
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from babel import Locale
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

from dialogs.languages import PEOPLE_LOCALES, SOURCE_LOCALE, is_rtl

DOMAIN = "messages"
LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"


FSI, PDI = "\u2068", "\u2069"
"""Unicode first-strong isolate and pop: keep a left-to-right run intact in right-to-left text."""
_LATIN = "0-9A-Za-z\u00c0-\u024f"
"""Digits and Latin letters, accented ones included ("Allô", "département")."""
_LTR_WORD = rf"[{_LATIN}{{}}/+#@](?:[{_LATIN}{{}}/+#@.:_\-'’]*[{_LATIN}{{}}])?"
_LTR_RUN = re.compile(rf"{_LTR_WORD}(?: +{_LTR_WORD})*")
"""Latin words in a row are one run ("Allô Enfance en Danger"), so they keep their order."""


def isolate_ltr_runs(text: str) -> str:
    """Wrap numbers, codes, commands and Latin words so "17", "/start" and
    "XXXX-XXXX-XXXX" read correctly inside Arabic. Placeholders such as {code} are runs
    too, so what is formatted into them is isolated as well."""
    return _LTR_RUN.sub(lambda match: f"{FSI}{match.group(0)}{PDI}", text)


@dataclass(frozen=True)
class Translator:
    """One language: gettext for words, Babel for numbers, isolates for right-to-left."""

    locale: str
    translations: gettext.NullTranslations
    rtl: bool = False

    def gettext(self, message: str) -> str:
        text = self.translations.gettext(message)
        return isolate_ltr_runs(text) if self.rtl else text

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        text = self.translations.ngettext(singular, plural, n)
        return isolate_ltr_runs(text) if self.rtl else text

    def isolate(self, value: str) -> str:
        """A value shown as is (a code, a name, a phone number), safe inside right-to-left text."""
        return f"{FSI}{value}{PDI}" if self.rtl and value else value

    def number(self, value: float) -> str:
        return format_decimal(value, locale=Locale.parse(self.locale))

    def date(self, value: dt.date) -> str:
        """A calendar date as this language writes it in full ("30 juin 2027", "June 30, 2027")."""
        return format_date(value, format="long", locale=Locale.parse(self.locale))


def compile_po(path: Path) -> gettext.GNUTranslations:
    """Read a `.po` and compile it to an in-memory `.mo` (fuzzy entries excluded)."""
    return compile_po_text(path.read_text(encoding="utf-8"))


def compile_po_text(text: str) -> gettext.GNUTranslations:
    """Compile `.po` text (a file, or an approved snapshot) to an in-memory `.mo`."""
    catalog = read_po(BytesIO(text.encode("utf-8")))
    buffer = BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


class Catalogs:
    """Every language's translator, loaded once. French is the source: no catalogue.

    By default from the `.po` files; `from_sources` takes approved snapshots instead.
    """

    def __init__(self, directory: Path = LOCALES_DIR, domain: str = DOMAIN) -> None:
        sources = {}
        for locale in PEOPLE_LOCALES:
            po = directory / locale / "LC_MESSAGES" / f"{domain}.po"
            if locale != SOURCE_LOCALE and po.exists():
                sources[locale] = po.read_text(encoding="utf-8")
        self._load(sources)

    @classmethod
    def from_sources(cls, sources: Mapping[str, str]) -> Catalogs:
        catalogs = cls.__new__(cls)
        catalogs._load(sources)
        return catalogs

    def _load(self, sources: Mapping[str, str]) -> None:
        self._translators: dict[str, Translator] = {
            SOURCE_LOCALE: Translator(SOURCE_LOCALE, gettext.NullTranslations())
        }
        for locale in PEOPLE_LOCALES:
            if locale != SOURCE_LOCALE and locale in sources:
                self._translators[locale] = Translator(locale, compile_po_text(sources[locale]), is_rtl(locale))

    @property
    def locales(self) -> tuple[str, ...]:
        """Available languages, in the picker's order."""
        return tuple(loc for loc in PEOPLE_LOCALES if loc in self._translators)

    def get(self, locale: str | None) -> Translator:
        """The translator for `locale`, or the French source for anything unknown."""
        return self._translators.get(locale or SOURCE_LOCALE) or self._translators[SOURCE_LOCALE]


@dataclass(frozen=True)
class Coverage:
    """One language's review state, for moderators and translators."""

    locale: str
    total: int
    translated: int
    """Served, and reviewed by a native speaker."""
    unreviewed: int
    """Served, but flagged `unreviewed`: nobody who speaks the language has checked it."""
    fuzzy: int
    """Not served (stale): the French source shows instead."""
    missing: int


def coverage(directory: Path = LOCALES_DIR, domain: str = DOMAIN) -> list[Coverage]:
    """Translated, unreviewed, fuzzy and missing counts for every catalogue, in picker order."""
    rows = []
    for locale in PEOPLE_LOCALES:
        po = directory / locale / "LC_MESSAGES" / f"{domain}.po"
        if locale == SOURCE_LOCALE or not po.exists():
            continue
        with po.open("rb") as handle:
            entries = [m for m in read_po(handle) if m.id]
        done = [m for m in entries if (all(m.string) if isinstance(m.string, tuple) else m.string)]
        fuzzy = [m for m in done if m.fuzzy]
        unreviewed = [m for m in done if not m.fuzzy and "unreviewed" in m.flags]
        rows.append(
            Coverage(
                locale=locale,
                total=len(entries),
                translated=len(done) - len(fuzzy) - len(unreviewed),
                unreviewed=len(unreviewed),
                fuzzy=len(fuzzy),
                missing=len(entries) - len(done),
            )
        )
    return rows
