"""Quick exit and the emergency screen: the two things a person in danger needs first."""

from __future__ import annotations

from tests.support.stack import Stack
from tests.support.walks import begun_hours_ago, walk_to_consent


async def test_quick_exit_deletes_the_whole_conversation(stack: Stack) -> None:
    user = stack.user()
    await walk_to_consent(user)
    chat = stack.fake.chats[user.chat_id]
    assert len(chat.messages) >= 1  # the bot's (what the person sends is erased once handled)
    await user.press("✖ Quitter")
    assert await stack.state.count() == 0, "the state is reset at once"
    await stack.deletions_done()
    remaining = list(chat.messages.values())
    assert [m["text"] for m in remaining] == ["Bonne journée ☀️"]
    assert "reply_markup" not in remaining[0]
    assert await stack.state.count() == 0
    assert stack.fake.refused == []


async def test_exit_command_deletes_the_command_too(stack: Stack) -> None:
    user = stack.user()
    await user.send("/start")
    await user.press("J'ai compris")
    await user.send("/exit")
    await stack.deletions_done()
    assert [m["text"] for m in stack.fake.chats[user.chat_id].messages.values()] == ["Bonne journée ☀️"]
    await user.send("/start")
    assert "Nous ne gardons ni nom" in user.last()["text"], "after an exit, everything starts afresh"


async def test_quick_exit_after_48_hours_deletes_what_it_can(stack: Stack) -> None:
    user = await begun_hours_ago(stack, 50)
    await user.press("Oui, je suis en sécurité")  # edits the old screen, too old to delete now
    await user.send("/help")
    await user.press("✖ Quitter")
    await stack.deletions_done()
    left = list(stack.fake.chats[user.chat_id].messages.values())
    assert [m["text"] for m in left] == ["Bonne journée ☀️"], "the old screen became the neutral line"
    assert "reply_markup" not in left[-1]
    assert stack.fake.refused == []


async def test_what_the_person_types_or_shares_is_erased_once_read(stack: Stack) -> None:
    user = stack.user()
    await user.send("/start")
    await user.press("J'ai compris")
    await user.send("mon proxénète s'appelle Marco")
    await user.send_message(contact={"phone_number": "+33600000000", "first_name": "Moi"})
    await user.share_location(48.8566, 2.3522)
    assert "en sécurité" in user.last()["text"], "each got its kind answer, and the conversation goes on"
    theirs = [m for m in stack.fake.chats[user.chat_id].messages.values() if m["from"]["id"] == user.id]
    assert theirs == [], "the text, the number, the place and the commands are gone"
    assert stack.fake.refused == []


async def test_neutral_text_is_configurable(stack: Stack) -> None:
    object.__setattr__(stack.app.settings, "neutral_text", "Météo : ensoleillé")
    user = stack.user()
    await user.send("/start")
    await user.press("✖ Quitter")
    await stack.deletions_done()
    assert [m["text"] for m in stack.fake.chats[user.chat_id].messages.values()] == ["Météo : ensoleillé"]


async def test_emergency_is_one_tap_away_on_every_screen(stack: Stack) -> None:
    user = stack.user()
    await user.send("/start")
    steps = [
        ("J'ai compris", None),
        ("Oui, je suis en sécurité", None),
        ("Moins de 18 ans", None),
        ("Continuer", None),
        ("Dormir en sécurité ce soir", None),
        ("Valider", None),
        ("Continuer", None),
        (None, "93"),
        ("Je les appelle", None),
        ("Non", None),
        ("Non, ne pas envoyer", None),
    ]
    visited = []
    for label, typed in steps:
        before = user.last()["text"]
        visited.append(before[:30])
        await user.press("🆘 Urgence")
        emergency = user.last()["text"]
        assert "17 : police" in emergency and "112" in emergency and "114" in emergency
        await user.press("Retour")
        assert user.last()["text"] == before, "back returns to the same screen"
        if label:
            await user.press(label)
        else:
            await user.send(typed or "")
    assert "Rien n'a été envoyé" in user.last()["text"]
    await user.press("🆘 Urgence")
    assert "119" in user.last()["text"]
    assert len(visited) == len(steps)
    assert stack.fake.refused == []


async def test_in_danger_goes_straight_to_emergency(stack: Stack) -> None:
    user = stack.user()
    await user.send("/start")
    await user.press("J'ai compris")
    await user.press("Non, je suis en danger")
    assert "17 : police" in user.last()["text"]
    await user.press("Je peux continuer")
    assert "Quel âge" in user.last()["text"]


async def test_emergency_works_without_any_state(stack: Stack) -> None:
    user = stack.user()
    await user.send("/start")
    await user.send("/forget")
    await user.press("🆘 Urgence", message_id=user.bot_messages()[0]["message_id"])
    assert "17 : police" in user.last()["text"]
    assert stack.fake.refused == []


async def test_emergency_is_on_the_language_picker_too(stack: Stack) -> None:
    """The picker is the first screen for anyone whose Telegram language we do not have."""
    user = stack.user(language_code="tlh")
    await user.send("/start")
    assert "Choose your language." in user.last()["text"]
    labels = [label for label, _ in user.buttons()]
    assert "🆘 Urgence" in labels and "✖ Quitter" in labels, labels
    await user.press("🆘 Urgence")
    assert "17 : police" in user.last()["text"] and "119" in user.last()["text"]
    await user.press("Retour")
    assert "Choose your language." in user.last()["text"], "back returns to the picker: no language was chosen"
    await user.press("English")
    assert "We keep no name, no Telegram account" in user.last()["text"]
    english = stack.user(10_003, language_code="en")
    await english.send("/language")
    assert "🆘 Emergency" in [label for label, _ in english.buttons()], "the footer in the person's Telegram language"
    french = stack.user(10_002)
    await french.send("/start")
    await french.press("🌐 Langue")
    await french.press("🆘 Urgence")
    assert "17 : police" in french.last()["text"]
    await french.press("Retour")
    assert "Nous ne gardons ni nom" in french.last()["text"], "back returns to the conversation"
    assert stack.fake.refused == []
