"""Every language, end to end through the fake Bot API, with nothing left in French."""

from __future__ import annotations

import pytest

from dialogs.i18n import FSI, PDI
from dialogs.languages import PEOPLE_LOCALES
from tests.support.stack import Stack
from tests.support.walks import CATALOGS, french_leftovers, walk_to_consent

TELEGRAM_CODES = {
    "fr": "fr",
    "en": "en",
    "ro": "ro",
    "bg": "bg",
    "zh_Hans": "zh-hans",
    "es": "es",
    "pt_BR": "pt-br",
    "ar": "ar",
    "ru": "ru",
    "uk": "uk",
    "hu": "hu",
    "sq": "sq",
    "pcm": "pcm",
}


@pytest.mark.parametrize("locale", PEOPLE_LOCALES)
async def test_whole_walk_in_every_language(stack: Stack, locale: str) -> None:
    user = stack.user(language_code=TELEGRAM_CODES[locale])
    await walk_to_consent(user, locale)
    _ = CATALOGS.get(locale).gettext
    await user.press(_("Oui, envoyer"))  # no directory here: nothing can be sent, and it says so
    await user.press(_("🆘 Urgence"))
    shown = user.texts() + [label for message in user.bot_messages() for label, _data in user.buttons(message)]
    if locale != "fr":
        assert french_leftovers(shown, locale) == []
    assert stack.fake.refused == []


def test_the_picker_offers_all_thirteen_languages() -> None:
    assert CATALOGS.locales == PEOPLE_LOCALES


async def test_traditional_chinese_is_offered_simplified_with_a_note(stack: Stack) -> None:
    user = stack.user(language_code="zh-hant")
    await user.send("/start")
    note = CATALOGS.get("zh_Hans").gettext("Le chinois n'est disponible qu'en caractères simplifiés.")
    assert note in user.last()["text"]


async def test_arabic_keeps_numbers_and_codes_readable(stack: Stack) -> None:
    user = stack.user(language_code="ar")
    await user.send("/start")
    await user.press(CATALOGS.get("ar").gettext("🆘 Urgence"))
    text = user.last()["text"]
    for number in ("17", "112", "114", "115", "119"):
        assert f"{FSI}{number}{PDI}" in text, number


def test_french_names_inside_arabic_keep_their_letters_and_word_order() -> None:
    """A word with an accent is one run, and Latin words in a row are one run: isolated word
    by word, "Allô Enfance en Danger" would read backwards in Arabic, and "département"
    would come apart at its "é"."""
    from dialogs.i18n import isolate_ltr_runs

    assert (
        isolate_ltr_runs("119 (Allô Enfance en Danger، خط)") == f"{FSI}119{PDI} ({FSI}Allô Enfance en Danger{PDI}، خط)"
    )
    assert isolate_ltr_runs("مقاطعتك (département):") == f"مقاطعتك ({FSI}département{PDI}):"
    assert isolate_ltr_runs("الرقم 17 أو 112") == f"الرقم {FSI}17{PDI} أو {FSI}112{PDI}"


def test_pidgin_shows_under_the_name_people_look_for() -> None:
    """Babel's autonym for pcm is "Naijíriá Píjin"; people look for "Naija" or "Pidgin" (issue 14)."""
    from dialogs.languages import autonym

    assert autonym("pcm") == "Naija Pidgin"
    assert autonym("ro") == "Română", "other languages keep their own name"
