"""The summary of a person's answers, readable in every language: one need per line (some
labels hold commas), the punctuation of the language it is shown in (the person's on the
consent screen, the association's on its notice), and, in Arabic, lines holding only a
French name that align right. Through the real stack and the fake Bot API."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from dialogs.i18n import Catalogs
from storage.models import Association
from tests.support.fake_telegram import FakeUser
from tests.support.handoff_fixtures import enrolled_directory
from tests.support.stack import Stack
from tests.test_handoff import wait_notice
from tests.test_screens import walk_in_danger_in

CATALOGS = Catalogs()
RLM, FSI, PDI = "\u200f", "\u2068", "\u2069"
COMMA_NEEDS = ("Droits, papiers, séjour", "On me contrôle, on prend mon argent")
"""Two needs whose labels hold a comma: joined on one line, nobody can tell them apart."""


async def walk_with_needs(user: FakeUser, locale: str, needs: tuple[str, ...]) -> None:
    """To the consent screen, safe, adult, with `needs`, pressing the buttons in `locale`."""
    _ = CATALOGS.get(locale).gettext
    await user.send("/start")
    for label in ("J'ai compris", "Oui, je suis en sécurité", "18 ans ou plus", *needs, "Valider", "Continuer"):
        await user.press(_(label))
    await user.send("75011")
    for label in ("Ils me laissent un message ici", "Oui"):
        await user.press(_(label))


def lines_holding(text: str, part: str) -> list[str]:
    return [line for line in text.splitlines() if part in line]


async def notice_locale(stack: Stack, slug: str, locale: str) -> None:
    async with stack.app.runtime.db.begin() as session:
        await session.execute(update(Association).where(Association.slug == slug).values(notice_locale=locale))


async def notices_to(stack: Stack, staff: FakeUser, count: int = 1) -> list[str]:
    """The notices a group received (any language: they are the messages with buttons)."""
    await stack.fake.wait_for(lambda: len([m for m in staff.bot_messages() if m.get("reply_markup")]) >= count)
    return [m["text"] for m in staff.bot_messages() if m.get("reply_markup")]


@pytest.mark.parametrize("locale", ["fr", "en", "ar"])
async def test_each_need_has_its_own_line_on_the_consent_and_the_notice(stack: Stack, locale: str) -> None:
    directory = await enrolled_directory(stack)
    user = stack.user(33_001, language_code=locale)
    await walk_with_needs(user, locale, COMMA_NEEDS)
    consent = user.last()["text"]
    _ = CATALOGS.get(locale).gettext
    for need, other in (COMMA_NEEDS, COMMA_NEEDS[::-1]):
        lines = lines_holding(consent, _(need))
        assert len(lines) == 1, f"{need!r} is not on the consent screen once: {consent}"
        assert _(other) not in lines[0] and _("Besoins") not in lines[0], f"a need shares its line: {lines[0]!r}"
    await user.press(_("Oui, envoyer"))
    notice = (await wait_notice(stack, directory, "test-paris"))[-1]
    for need, other in (COMMA_NEEDS, COMMA_NEEDS[::-1]):  # the association's language: French
        lines = lines_holding(notice, need)
        assert len(lines) == 1 and other not in lines[0] and "Besoins" not in lines[0], notice
    assert stack.fake.refused == []


@pytest.mark.parametrize(
    ("person", "association"),
    [("en", "zh_Hans"), ("zh_Hans", "en"), ("ar", "fr"), ("fr", "ar")],
)
async def test_separators_follow_the_language_of_each_screen(stack: Stack, person: str, association: str) -> None:
    """No French " : " in English or Chinese; Chinese has its full-width colon, Arabic and
    English a colon after the word. The consent in the person's language, the notice in the
    association's notice_locale, from the same answers."""
    separator = {"fr": " : ", "en": ": ", "ar": ": ", "zh_Hans": "："}
    directory = await enrolled_directory(stack)
    await notice_locale(stack, "test-paris", association)
    user = stack.user(33_002, language_code={"zh_Hans": "zh-hans"}.get(person, person))
    await walk_in_danger_in(user, person)
    consent = user.last()["text"]
    await user.press(CATALOGS.get(person).gettext("Oui, envoyer"))
    notice = (await notices_to(stack, directory.staff["test-paris"]))[-1]
    for locale, text in ((person, consent), (association, notice)):
        _ = CATALOGS.get(locale).gettext
        for label, value in (("Sécurité", "Non, je suis en danger"), ("Interprète", "Oui")):
            line = f"{_(label)}{separator[locale]}{_(value)}"
            assert lines_holding(text, line), f"{locale}: no line {line!r} in {text}"
        if locale != "fr":
            assert " : " not in text and " ：" not in text, f"{locale}: French spacing in {text}"
    assert stack.fake.refused == []


async def test_arabic_lines_holding_only_a_french_name_align_right(stack: Stack) -> None:
    """The association's name and town are French: alone on a line in Arabic, the line would
    read left to right. A right-to-left mark first makes it align with the rest."""
    directory = await enrolled_directory(stack)
    screens = {}
    for locale, number in (("ar", 34_001), ("fr", 34_002)):
        user = stack.user(number, language_code=locale)
        await walk_in_danger_in(user, locale)
        consent = user.last()["text"]
        await user.press(CATALOGS.get(locale).gettext("Oui, envoyer"))
        screens[locale] = (consent, user.last()["text"])
    await wait_notice(stack, directory, "test-paris", 2)
    for screen in screens["ar"]:
        for name in ("Association Test Paris", "Paris"):
            line = next(line for line in screen.splitlines() if line.strip(RLM + FSI + PDI) == name)
            assert line.startswith(RLM), f"{line!r} does not align right"
    for screen in screens["fr"]:
        assert RLM not in screen, "left-to-right languages get no right-to-left mark"
    assert stack.fake.refused == []


async def test_the_consent_names_the_language_as_the_picker_does(stack: Stack) -> None:
    """A Pidgin speaker chose "Naija Pidgin" in the picker: the consent's language line says the
    same, not CLDR's "Naijíriá Píjin", which nobody searching for Naija or Pidgin recognises."""
    await enrolled_directory(stack)
    user = stack.user(33_101, language_code="pcm")
    await walk_in_danger_in(user, "pcm")
    consent = user.last()["text"]
    language = CATALOGS.get("pcm").gettext("Langue : {language}").format(language="Naija Pidgin")
    assert language in consent and "Píjin" not in consent, consent
    assert stack.fake.refused == []


def test_the_reference_is_isolated_once_in_arabic() -> None:
    """The Arabic catalogue's {reference} is already a left-to-right run that gettext isolates:
    a second isolate around the value adds invisible characters a person may copy."""
    from bot.cli.samples import SAMPLE_CODE, sample_ticket
    from bot.conversation.turn import code_lines

    shown = code_lines(CATALOGS.get("ar"), SAMPLE_CODE, sample_ticket())
    assert f"{FSI}42-K7PX{PDI}" in shown and FSI + FSI not in shown, repr(shown)
