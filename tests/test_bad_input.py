"""Whatever a person sends, they get a short, kind answer and the conversation goes on."""

from __future__ import annotations

import pytest

from tests.support.bad_input_content import CONTENT
from tests.support.fake_telegram import FakeUser
from tests.support.stack import Stack


async def at_safety_question(stack: Stack, user_id: int = 10_001) -> FakeUser:
    user = stack.user(user_id)
    await user.send("/start")
    await user.press("J'ai compris")
    assert "en sécurité" in user.last()["text"]
    return user


async def still_going(user: FakeUser) -> None:
    """The current question is shown again, and answering it works."""
    assert "en sécurité" in user.last()["text"]
    await user.press("Oui, je suis en sécurité")
    assert "Quel âge" in user.last()["text"]


@pytest.mark.parametrize("kind", sorted(CONTENT))
async def test_media_is_answered_kindly(stack: Stack, kind: str) -> None:
    user = await at_safety_question(stack)
    await user.send_message(**CONTENT[kind])
    assert "je ne lis pas les fichiers" in user.last()["text"]
    await still_going(user)
    assert stack.fake.refused == []


async def test_contact_is_not_kept(stack: Stack) -> None:
    user = await at_safety_question(stack)
    await user.send_message(contact={"phone_number": "+33612345678", "first_name": "Someone"})
    assert "numéro de téléphone" in user.last()["text"]
    assert "612345678" not in await stack.state.dump()
    await still_going(user)


async def test_location_outside_the_location_step(stack: Stack) -> None:
    user = await at_safety_question(stack)
    await user.share_location(48.8566, 2.3522)
    assert "position" in user.last()["text"]
    assert "48.85" not in await stack.state.dump()
    await still_going(user)


@pytest.mark.parametrize(
    "text",
    ["x" * 5000, "😀😀😀", "مرحبا، أحتاج مساعدة", "\u202eevil\u202c", "<b>not html</b> & <i", "   "],
    ids=["5000-chars", "emoji", "arabic", "bidi-override", "html-like", "blank"],
)
async def test_odd_text_where_buttons_are_expected(stack: Stack, text: str) -> None:
    user = await at_safety_question(stack)
    await user.send(text)
    assert "boutons" in user.last()["text"]
    await still_going(user)
    assert stack.fake.refused == []


async def test_long_text_at_the_location_step(stack: Stack) -> None:
    user = await at_safety_question(stack)
    await user.press("Oui, je suis en sécurité")
    await user.press("18 ans ou plus")
    await user.press("Valider")
    await user.send("7" * 5000)
    assert "trop long" in user.last()["text"]
    await user.send("rue de la Paix, derrière la gare")
    assert "Je n'ai pas reconnu ce lieu" in user.last()["text"]
    await user.send("2B")
    assert "Comment voulez-vous" in user.last()["text"]
    assert stack.fake.refused == []


async def test_edited_message(stack: Stack) -> None:
    user = await at_safety_question(stack)
    sent = stack.fake.add_user_message(user.chat_id, user.user, {"text": "bonjour"})  # not yet erased: then edited
    await user.edit(sent["message_id"], "/help au secours")
    assert "messages modifiés" in user.last()["text"]
    await still_going(user)


async def test_unknown_command(stack: Stack) -> None:
    user = await at_safety_question(stack)
    await user.send("/admin")
    assert "Je ne connais pas cette commande" in user.last()["text"]
    await still_going(user)


@pytest.mark.parametrize(
    "data",
    [
        "garbage",
        "x:y",
        "deadbeef:c:safety:safe",
        "0:z:safety:safe",
        "lang:tlh",
        "é" * 20,
        "lang:" + "f" * 59,  # 64 bytes
        "m:nope",
        "t:a:١",  # a staff button, unicode digits, in a private chat
        "mod:a:script:0123abcd",  # a moderator's button, pressed by someone who is not one
    ],
)
async def test_forged_button_data(stack: Stack, data: str) -> None:
    user = await at_safety_question(stack)
    screen = user.last()
    await user.press_data(data, screen["message_id"])
    assert user.last()["text"] == screen["text"], "nothing changed"
    answers = stack.fake.callback_answers
    assert "n'est plus actif" in str(list(answers.values())[-1])
    await still_going(user)
    assert stack.fake.refused == []


async def test_button_from_an_earlier_screen(stack: Stack) -> None:
    user = stack.user()
    await user.send("/start")
    first = user.last()["message_id"]
    await user.press("J'ai compris")
    await user.send("hello")  # a new screen message below
    await user.press("Oui, je suis en sécurité", message_id=first)  # the old one was edited: same node, still valid
    await user.press_data(user.buttons(user.bot_messages()[0])[0][1], first)
    assert "n'est plus actif" in str(list(stack.fake.callback_answers.values())[-1])
    assert stack.fake.refused == []


async def test_button_from_an_older_script_version(stack: Stack) -> None:
    user = await at_safety_question(stack)
    data = user.buttons()[0][1]
    version = data.split(":")[0]
    forged = data.replace(version, "0" * len(version), 1)
    await user.press_data(forged, user.last()["message_id"])
    assert "n'est plus actif" in str(list(stack.fake.callback_answers.values())[-1])
    await still_going(user)


async def test_state_from_an_older_script_version_restarts_cleanly(stack: Stack) -> None:
    user = await at_safety_question(stack)
    await stack.state.edit_data(lambda data: data["s"].update(version="00000000"))  # a new script version
    await user.press("Oui, je suis en sécurité")
    assert "Les questions ont changé" in user.last()["text"]
    assert "Nous ne gardons ni nom" in user.last()["text"]


async def test_expired_state_restarts_cleanly(stack: Stack) -> None:
    user = await at_safety_question(stack)
    await stack.state.forget_everything()  # as if the TTL had passed
    await user.press("Oui, je suis en sécurité")
    text = user.last()["text"]
    assert "conversation précédente a été effacée" in text or "Choisissez votre langue" in text
    assert stack.fake.refused == []


async def test_one_persons_error_does_not_touch_another(stack: Stack) -> None:
    alice = await at_safety_question(stack, 30_001)
    bob = await at_safety_question(stack, 30_002)
    await bob.press("Oui, je suis en sécurité")
    await alice.press_data("garbage", alice.last()["message_id"])
    await alice.send_message(**CONTENT["sticker"])
    await alice.send("/exit")
    assert "Quel âge" in bob.last()["text"]
    await bob.press("18 ans ou plus")
    assert "De quoi avez-vous besoin" in bob.last()["text"]


async def test_a_failing_send_is_apologised_for_and_logged_without_identity(stack: Stack) -> None:
    user = await at_safety_question(stack, 40_004)
    stack.fake.fail_next("editMessageText", error_code=500)
    stack.fake.fail_next("sendMessage", error_code=500)
    await user.press("Oui, je suis en sécurité")
    assert "update failed: TelegramServerError" in stack.logs.getvalue()
    assert "40004" not in stack.logs.getvalue()
    await user.send("/start")
    assert "Quel âge" in user.last()["text"] or "en sécurité" in user.last()["text"]
