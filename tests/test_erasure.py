"""Everything the person sends in the private chat is deleted once handled: text, commands,
captions, media, contacts, locations, polls, edits, and the /start payload."""

from __future__ import annotations

import pytest

from tests.support.bad_input_content import CONTENT
from tests.support.fake_telegram import FakeUser
from tests.support.stack import Stack

MEDIA_NOTICE = "je ne lis pas les fichiers"


def theirs(stack: Stack, user: FakeUser) -> list[dict[str, object]]:
    """The person's messages still in the chat."""
    return [m for m in stack.fake.chats[user.chat_id].messages.values() if m["from"]["id"] == user.id]


async def started(stack: Stack) -> FakeUser:
    user = stack.user()
    await user.send("/start")
    await user.press("J'ai compris")
    assert "en sécurité" in user.last()["text"]
    return user


@pytest.mark.parametrize(
    "fields",
    [
        {**CONTENT["photo"], "caption": "Aminata, 0612345678, hôtel Ibis"},
        CONTENT["voice"],
        CONTENT["sticker"],
        CONTENT["document"],
        CONTENT["video"],
        CONTENT["poll"],
    ],
    ids=["caption", "voice", "sticker", "document", "video", "poll"],
)
async def test_media_is_deleted_and_the_person_is_told(stack: Stack, fields: dict[str, object]) -> None:
    user = await started(stack)
    await user.send_message(**fields)
    assert theirs(stack, user) == [], "what they sent is gone"
    assert MEDIA_NOTICE in user.last()["text"], "and they are told why, kindly"
    await user.press("Oui, je suis en sécurité")
    assert "Quel âge" in user.last()["text"], "the conversation goes on"
    assert stack.fake.refused == []


async def test_the_notice_is_said_once_per_screen(stack: Stack) -> None:
    user = await started(stack)
    await user.send_message(**CONTENT["photo"])
    count = len(user.bot_messages())
    await user.send_message(**CONTENT["voice"])
    await user.send_message(**CONTENT["sticker"])
    assert len(user.bot_messages()) == count, "no new message for each file"
    assert sum(MEDIA_NOTICE in t for t in user.texts()) == 1
    assert theirs(stack, user) == []
    assert stack.fake.refused == []


@pytest.mark.parametrize("text", ["/Aminata 0612345678 hotel Ibis", "/help", "/language", "/start", "/forget"])
async def test_commands_are_deleted_once_handled(stack: Stack, text: str) -> None:
    user = await started(stack)
    await user.send(text)
    assert theirs(stack, user) == []
    assert stack.fake.refused == []


async def test_the_start_payload_from_a_link_is_deleted(stack: Stack) -> None:
    user = stack.user()
    await user.send("/start Aminata0612345678")
    assert "Nous ne gardons ni nom" in user.last()["text"]
    assert theirs(stack, user) == []
    assert stack.fake.refused == []


async def test_an_edited_message_is_deleted(stack: Stack) -> None:
    user = await started(stack)
    # A message the bot has not deleted yet (sent a moment before), then edited.
    message = stack.fake.add_user_message(user.chat_id, user.user, {"text": "bonjour"})
    await user.edit(message["message_id"], "Aminata 0612345678 hôtel Ibis")
    assert theirs(stack, user) == []
    assert "messages modifiés" in user.last()["text"]
    assert stack.fake.refused == []


async def test_an_erasure_that_meets_a_429_is_retried(stack: Stack) -> None:
    user = await started(stack)
    stack.fake.fail_next("deleteMessage", error_code=429, retry_after=1)
    await user.send("Aminata 0612345678")
    await stack.fake.wait_for(lambda: theirs(stack, user) == [], timeout=10)
    assert stack.fake.refused == []
