"""Walks through the real dispatcher, polling the fake Bot API over HTTP."""

from __future__ import annotations

import asyncio
import io

import pytest

from tests.support.backends import Backend
from tests.support.stack import Stack, running_stack
from tests.support.walks import french_leftovers, walk_to_consent


async def test_full_walk_in_french(stack: Stack) -> None:
    user = stack.user(language_code="fr")
    await user.send("/start")
    assert "Nous ne gardons ni nom" in user.last()["text"]
    await user.press("J'ai compris")
    assert "en sécurité" in user.last()["text"]
    screen_id = user.last()["message_id"]
    await user.press("Oui, je suis en sécurité")
    assert user.last()["message_id"] == screen_id, "a button press edits the screen in place"
    await user.press("18 ans ou plus")
    await user.press("Me soigner")
    assert "✓ Me soigner" in [text for text, _ in user.buttons()]
    await user.press("Sortir de la prostitution")
    await user.press("Valider")
    assert "parcours de sortie" in user.last()["text"]
    await user.press("Continuer")
    await user.send("75011")
    assert "Comment voulez-vous" in user.last()["text"]
    await user.press("Ils me laissent un message ici")
    await user.press("Oui")
    consent = user.last()["text"]
    assert "Département : 75 Paris" in consent
    assert "Besoins :\n  – Sortir de la prostitution\n  – Me soigner\n" in consent, "one need per line"
    assert "Aucune association ne peut recevoir" in consent, "this stack has an empty directory"
    await user.press("Oui, envoyer")
    assert "Rien n'a été envoyé" in user.last()["text"]
    assert stack.fake.refused == []


async def test_full_walk_in_english(stack: Stack) -> None:
    user = stack.user(language_code="en-GB")
    await walk_to_consent(user, "en")
    consent = user.last()["text"]
    assert "Do you want to send it?" in consent or "send" in consent.lower()
    shown = user.texts() + [label for message in user.bot_messages() for label, _ in user.buttons(message)]
    assert french_leftovers(shown, "en") == []
    assert stack.fake.refused == []


@pytest.mark.parametrize("code", [None, "xx", "tlh"])
async def test_unknown_language_opens_the_picker(stack: Stack, code: str | None) -> None:
    user = stack.user(language_code=code)
    await user.send("/start")
    labels = [label for label, _ in user.buttons()]
    assert "Français" in labels and "English" in labels
    assert "Choose your language." in user.last()["text"]
    await user.press("English")
    assert "Nothing that says who you are" in user.last()["text"] or "name" in user.last()["text"]
    assert "🌐 Language" in [label for label, _ in user.buttons()]
    assert stack.fake.refused == []


async def test_language_can_change_mid_conversation(stack: Stack) -> None:
    user = stack.user(language_code="fr")
    await user.send("/start")
    await user.press("J'ai compris")
    await user.press("🌐 Langue")
    await user.press("English")
    assert "safe" in user.last()["text"]  # the same question, now in English
    await user.send("/language")
    await user.press("Français")
    assert "en sécurité" in user.last()["text"]
    assert stack.fake.refused == []


async def test_menus_in_every_language(stack: Stack) -> None:
    scopes = set(stack.fake.commands)
    assert len(scopes) >= 3  # default, fr and en
    texts = " ".join(str(value) for value in stack.fake.commands.values())
    assert "Change language" in texts and "Changer de langue" in texts
    for code in ("fr", "en", "ro", "bg", "zh", "es", "pt", "ar", "ru", "uk", "hu", "sq"):
        assert stack.fake.descriptions.get(code) and stack.fake.short_descriptions.get(code), code
    assert stack.fake.descriptions["ro"] != stack.fake.descriptions["bg"]


async def test_help_and_resume(stack: Stack) -> None:
    user = stack.user()
    await user.send("/start")
    await user.press("J'ai compris")
    await user.send("/help")
    assert any("/exit" in text for text in user.texts())
    assert "en sécurité" in user.last()["text"], "help is followed by the current screen"
    await user.send("/start")
    assert "en sécurité" in user.last()["text"], "/start resumes where the person was"


async def test_forget_clears_the_state(stack: Stack) -> None:
    user = stack.user()
    await user.send("/start")
    await user.press("J'ai compris")
    assert await stack.state.count() == 1
    await user.send("/forget")
    held = await stack.state.dump()  # only the message ids a quick exit needs (test_redteam_person)
    for key in ('"l"', '"s"', '"t"', '"m"'):  # no language, no step nor answers, no code, no screen
        assert key not in held, held
    assert "vos réponses et votre demande sont effacées" in user.last()["text"]


async def test_forget_forgets_even_when_telegram_fails_to_say_so(stack: Stack) -> None:
    """The state is cleared before Telegram is asked anything, as with a quick exit."""
    user = stack.user()
    await user.send("/start")
    await user.press("J'ai compris")
    stack.fake.fail_next("sendMessage", error_code=502, times=5)
    await user.send("/forget")
    held = await stack.state.dump()
    for key in ('"l"', '"s"', '"t"', '"m"'):
        assert key not in held, held


async def test_blocking_the_bot_clears_the_state(stack: Stack) -> None:
    user = stack.user()
    await user.send("/start")
    assert await stack.state.count() == 1
    update = stack.fake.push(
        {
            "my_chat_member": {
                "chat": stack.fake.chats[user.chat_id].chat,
                "from": user.user,
                "date": stack.fake.now(),
                "old_chat_member": {"status": "member", "user": stack.fake.bot_user},
                "new_chat_member": {"status": "kicked", "user": stack.fake.bot_user, "until_date": 0},
            }
        }
    )
    await stack.fake.processed(update["update_id"])
    assert await stack.state.count() == 0


async def test_groups_get_no_conversation(stack: Stack) -> None:
    member = stack.user(20_002, chat_id=-100_555, chat_type="group", chat_title="Team")
    for text in ("/start", "hello", "75011", "/help"):
        await member.send(text)
    await member.send_message(
        sticker={
            "file_id": "s",
            "file_unique_id": "u",
            "type": "regular",
            "width": 1,
            "height": 1,
            "is_animated": False,
            "is_video": False,
        }
    )
    assert member.bot_messages() == []
    assert not any(r.method == "sendMessage" for r in stack.fake.requests)


async def test_as_passerelle_run_polls_many_people_at_once_and_a_double_tap_counts_once(
    backend: Backend, captured_logs: io.StringIO
) -> None:
    """Updates handled concurrently, as in production: twenty people start at the same time,
    and one taps the same button twice before the first tap is answered."""
    async with running_stack(backend, captured_logs, as_tasks=True) as stack:
        people = [stack.user(880_000 + n) for n in range(20)]
        await asyncio.gather(*(person.send("/start") for person in people))
        await stack.fake.wait_for(lambda: all(person.bot_messages() for person in people), timeout=10)
        assert all("Bonjour" in person.last()["text"] for person in people)

        tapper = people[0]
        await asyncio.gather(tapper.press("J'ai compris"), tapper.press("J'ai compris"))
        await stack.fake.wait_for(lambda: not stack.fake.unanswered_callback_queries(), timeout=10)
        await stack.fake.wait_for(lambda: "en sécurité" in tapper.last()["text"], timeout=10)
        answers = list(stack.fake.callback_answers.values())
        assert len(answers) == 2, "each tap is answered exactly once"
        assert len(tapper.bot_messages()) == 1, "both taps edit the one screen; nothing new is sent"
        assert await stack.state.count() == 20
        assert stack.fake.refused == []
        assert "update failed" not in captured_logs.getvalue()
