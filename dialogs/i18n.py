"""Catalogues compiled in memory from the `.po` files at start-up.

Compiling at load time means a stale `.mo` can never be served: the `.po` a moderator
reviewed is the only source. Fuzzy entries are left out, so the French source shows
instead, as gettext intends.
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

from dialogs.languages import PEOPLE_LOCALES, SOURCE_LOCALE

DOMAIN = "messages"
LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"


@dataclass(frozen=True)
class Translator:
    """One language: gettext for words, Babel for numbers."""

    locale: str
    translations: gettext.NullTranslations

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)

    def number(self, value: float) -> str:
        return format_decimal(value, locale=Locale.parse(self.locale))


def compile_po(path: Path) -> gettext.GNUTranslations:
    """Read a `.po` and compile it to an in-memory `.mo` (fuzzy entries excluded)."""
    with path.open("rb") as handle:
        catalog = read_po(handle)
    buffer = BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


class Catalogs:
    """Every language's translator, loaded once. French is the source: no catalogue."""

    def __init__(self, directory: Path = LOCALES_DIR, domain: str = DOMAIN) -> None:
        self._translators: dict[str, Translator] = {
            SOURCE_LOCALE: Translator(SOURCE_LOCALE, gettext.NullTranslations())
        }
        for locale in PEOPLE_LOCALES:
            po = directory / locale / "LC_MESSAGES" / f"{domain}.po"
            if locale != SOURCE_LOCALE and po.exists():
                self._translators[locale] = Translator(locale, compile_po(po))

    @property
    def locales(self) -> tuple[str, ...]:
        """Available languages, in the picker's order."""
        return tuple(loc for loc in PEOPLE_LOCALES if loc in self._translators)

    def get(self, locale: str | None) -> Translator:
        """The translator for `locale`, or the French source for anything unknown."""
        return self._translators.get(locale or SOURCE_LOCALE) or self._translators[SOURCE_LOCALE]
