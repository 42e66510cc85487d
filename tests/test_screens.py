"""Screens that tell the truth: what the consent shows is what the notice carries, "sent" is
not "received", and a quick exit says what it leaves behind."""

from __future__ import annotations

from sqlalchemy import select

from bot import handoff
from dialogs.i18n import Catalogs
from storage.models import Ticket
from tests.support.fake_telegram import FakeUser
from tests.support.fake_telegram.parse_mode import parse_html
from tests.support.handoff_fixtures import enrolled_directory
from tests.support.stack import Stack
from tests.test_handoff import wait_notice

CATALOGS = Catalogs()


async def walk_in_danger(user: FakeUser) -> None:
    """To the consent screen, having said "I am in danger", under 18, with an interpreter."""
    await user.send("/start")
    for label in ("J'ai compris", "Non, je suis en danger", "Je peux continuer", "Moins de 18 ans", "Continuer"):
        await user.press(label)
    await user.press("Dormir en sécurité ce soir")
    await user.press("Valider")
    await user.press("Continuer")
    await user.send("75011")
    await user.press("Ils me laissent un message ici")
    await user.press("Oui")


def plain(html: str) -> str:
    return parse_html(html)[0]


async def test_consent_after_danger_says_the_association_will_know(stack: Stack) -> None:
    await enrolled_directory(stack)
    user = stack.user()
    await walk_in_danger(user)
    consent = user.last()["text"]
    assert "Sécurité : Non, je suis en danger" in consent, consent
    assert "Langue : français" in consent, "the language goes with the notice"
    assert "Une référence courte" in consent, "the person is told a reference goes with it"
    assert "code" not in consent.lower(), "the code itself never goes to the association"
    recipient = consent.index("À cette association :")
    assert recipient < consent.index("Association Test Paris"), "the card is labelled as the recipient"
    assert consent.rstrip().endswith("Voulez-vous l'envoyer ?"), "the question comes last, above the buttons"
    assert "exactement" not in consent
    assert stack.fake.refused == []


async def test_consent_covers_every_field_of_the_notice(stack: Stack) -> None:
    """Each line of the notice the association received is shown first to the person, in
    their language. The lines come from the code that builds the notice: a field added to
    the notice later without its line on the consent screen fails here."""
    directory = await enrolled_directory(stack)
    for user, locale in ((stack.user(31_001), "fr"), (stack.user(31_002, language_code="ro"), "ro")):
        await walk_in_danger_in(user, locale)
        consent = user.last()["text"]
        await user.press(CATALOGS.get(locale).gettext("Oui, envoyer"))
        await wait_notice(stack, directory, "test-paris", 1 if locale == "fr" else 2)
        async with stack.app.runtime.db() as session:
            ticket = (await session.scalars(select(Ticket).where(Ticket.locale == locale))).one()
        facts = handoff.NoticeFacts(ticket.answers, ticket.locale, ticket.departement, ticket.script_version)
        engine, association_tr = stack.app.runtime.engine, stack.app.runtime.catalogs.get("fr")
        lines = handoff.notice_lines(engine, facts, ticket, association_tr, passed=False)
        received = directory.notices("test-paris")[-1].splitlines()
        assert len(received) == len(lines), "every line of the notice sent comes from notice_lines"
        expected = [plain(line.text) for line in lines]
        assert expected == received, "the same lines"
        shown = handoff.consent_lines(engine, ticket.answers, CATALOGS.get(locale))
        for line in lines:
            assert line.shows, f"the notice line {line.text!r} says nothing about what it shows"
            for what in line.shows:
                assert what in shown, f"the consent screen has no line for {what!r} ({line.text!r})"
                assert plain(shown[what]) in consent, f"{shown[what]!r} is not on the consent screen"
    assert stack.fake.refused == []


async def walk_in_danger_in(user: FakeUser, locale: str) -> None:
    _ = CATALOGS.get(locale).gettext
    await user.send("/start")
    for label in ("J'ai compris", "Non, je suis en danger", "Je peux continuer", "Moins de 18 ans", "Continuer"):
        await user.press(_(label))
    for label in ("Dormir en sécurité ce soir", "Valider", "Continuer"):
        await user.press(_(label))
    await user.send("75011")
    await user.press(_("Ils me laissent un message ici"))
    await user.press(_("Oui"))


async def test_handoff_screen_says_sent_and_puts_the_code_first(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    user = stack.user()
    await walk_in_danger(user)
    await user.press("Oui, envoyer")
    screen = user.last()["text"]
    assert "C'est envoyé" in screen and "a reçu" not in screen, screen
    labels = [label for label, _ in user.buttons()]
    assert labels[0] == "🔄 Voir les réponses", labels
    assert labels.index("Recommencer") == len(labels) - 4, "start again comes last, just above the footer"
    await wait_notice(stack, directory, "test-paris")
    await user.press("Voir les réponses")
    assert "L'association ne l'a pas encore acceptée" in user.last()["text"], "delivered is not accepted"
    assert stack.fake.refused == []


async def test_under_18_screen_repeats_the_protection_limit(stack: Stack) -> None:
    user = stack.user()
    await user.send("/start")
    for label in ("J'ai compris", "Oui, je suis en sécurité", "Moins de 18 ans"):
        await user.press(label)
    screen = user.last()["text"]
    assert "119" in screen and "prévenir les services de protection" in screen, screen


async def test_exit_texts_say_to_delete_the_chat_in_telegram(stack: Stack) -> None:
    user = stack.user()
    await user.send("/start")
    privacy = user.last()["text"]
    assert "la conversation est effacée" not in privacy
    assert "effacer nos messages" in privacy and "Effacez aussi la discussion dans Telegram" in privacy
    await user.send("/help")
    help_text = next(text for text in user.texts() if "/exit" in text)
    assert "effacez aussi cette conversation dans Telegram" in help_text, help_text
    menus = {c["command"]: c["description"] for c in stack.fake.commands[("all_private_chats", "fr")]}
    assert menus["exit"] == "Quitter vite et effacer nos messages"


async def test_without_a_place_the_person_is_told_why_no_association(stack: Stack) -> None:
    """ "Je préfère ne pas le dire" at the place question leaves no département, so no association
    can be chosen: the person is told that, and how to give one, not that none can receive
    requests "for now" (as if the service were down)."""
    await enrolled_directory(stack)
    user = stack.user()
    await user.send("/start")
    for label in ("J'ai compris", "Oui, je suis en sécurité", "18 ans ou plus", "Droits, papiers, séjour", "Valider"):
        await user.press(label)
    for label in ("Je préfère ne pas le dire", "Je les appelle ou je vais les voir", "Non"):
        await user.press(label)
    consent = user.last()["text"]
    assert "pour le moment" not in consent and "Sans ville ni département" in consent, consent
    await user.press("Oui, envoyer")
    after = user.last()["text"]
    assert "pour le moment" not in after and "Sans ville ni département" in after, after
    await user.press("Non, ne pas envoyer")
    assert "Recommencer" in [label for label, _ in user.buttons()], "starting again, as the text says, is one tap"
    assert stack.fake.refused == []
