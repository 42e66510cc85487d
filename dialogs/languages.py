"""Which languages exist, how they are named, and how Telegram's codes map onto them."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from babel import Locale, UnknownLocaleError

SOURCE_LOCALE = "fr"
PEOPLE_LOCALES: tuple[str, ...] = (
    "fr",
    "en",
    "ro",
    "bg",
    "zh_Hans",
    "es",
    "pt_BR",
    "ar",
    "ru",
    "uk",
    "hu",
    "sq",
    "pcm",
)
"""Every language a person may need (brief section 7), in the order the picker shows them."""


NAMES = {"pcm": "Naija Pidgin"}
"""Own names people search for, where CLDR's differs ("Naijíriá Píjin")."""


@cache
def own_name(locale: str) -> str:
    """The language's own name as written inside a sentence ("français", "Naija Pidgin")."""
    return NAMES.get(locale) or Locale.parse(locale).get_display_name() or locale


@cache
def autonym(locale: str) -> str:
    """The language's own name ("Română", "中文 (简体)") as the picker shows it, never a flag."""
    name = own_name(locale)
    return name[:1].upper() + name[1:]


@cache
def is_rtl(locale: str) -> bool:
    return Locale.parse(locale).text_direction == "rtl"


def telegram_language(locale: str) -> str | None:
    """The two-letter code Telegram's setMyCommands wants, or None when it has none."""
    language = Locale.parse(locale).language
    return language if len(language) == 2 else None


TRADITIONAL_CHINESE = ("zh-hant", "zh-tw", "zh-hk", "zh-mo")


def is_traditional_chinese(code: str | None) -> bool:
    """Telegram codes for traditional Chinese: we offer simplified, and say so."""
    return code is not None and code.strip().lower().replace("_", "-").startswith(TRADITIONAL_CHINESE)


def match_locale(code: str | None, available: Iterable[str]) -> str | None:
    """Map a client code (`pt-br`, `zh-hans`, `en_GB`) to one of `available`, or None.

    Our own mapping, because aiogram's SimpleI18nMiddleware does not fall back from
    `zh-hans` to `zh` (aiogram issue #1896). An exact match wins, then the same language.
    """
    if not code:
        return None
    options = tuple(available)
    try:
        wanted = Locale.parse(code.strip().replace("_", "-"), sep="-")
    except (ValueError, UnknownLocaleError):
        wanted = None
    language = wanted.language if wanted else code.split("-")[0].split("_")[0].lower()
    if wanted is not None and str(wanted) in options:
        return str(wanted)
    same_language = [o for o in options if Locale.parse(o).language == language]
    return same_language[0] if same_language else None
