"""The quick exit, attacked: Telegram failing mid-deletion, old screens, 49-hour-old
conversations, floods of presses, a shutdown while deleting.

What a quick exit must leave in the chat: the neutral line, and only what Telegram would
not let the bot delete (the person's messages over 48 hours old). Every test runs on
both backends, through the real stack and the fake Bot API.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest

from tests.support.backends import Backend
from tests.support.fake_telegram import FakeTelegram, FakeUser
from tests.support.fake_telegram.messages import DELETE_WINDOW_SECONDS
from tests.support.stack import Stack, running_stack
from tests.support.walks import begun_hours_ago, walk_to_consent

NEUTRAL = "Bonne journée ☀️"


def left_in_chat(fake: FakeTelegram, user: FakeUser) -> list[dict[str, Any]]:
    return list(fake.chats[user.chat_id].messages.values())


def deletable(fake: FakeTelegram, message: dict[str, Any]) -> bool:
    """What Telegram lets a bot delete in a private chat: any message under 48 hours old."""
    return fake.now() - message["date"] <= DELETE_WINDOW_SECONDS


async def exit_finished(stack: Stack, user: FakeUser, timeout: float = 15) -> list[dict[str, Any]]:
    """Once the background deletion is over: what is left in the chat."""
    await stack.deletions_done(timeout)
    return left_in_chat(stack.fake, user)


def only_neutral(stack: Stack, user: FakeUser) -> bool:
    return [m.get("text") for m in left_in_chat(stack.fake, user)] == [NEUTRAL]


def assert_nothing_deletable_left(stack: Stack, user: FakeUser, left: list[dict[str, Any]]) -> None:
    """Besides neutral lines, only what Telegram would refuse to delete."""
    for message in left:
        if message.get("text") == NEUTRAL and "reply_markup" not in message:
            continue
        assert not deletable(stack.fake, message), f"left behind: {message.get('text') or sorted(message)}"


def apologies(user: FakeUser) -> list[str]:
    return [t for t in user.texts() if "Désolé" in t]


@pytest.mark.parametrize("fault", ["429", "502", "drop"])
async def test_exit_finishes_when_delete_messages_fails(stack: Stack, fault: str) -> None:
    user = stack.user()
    await walk_to_consent(user)
    if fault == "429":
        stack.fake.fail_next("deleteMessages", error_code=429, retry_after=1, times=2)
    elif fault == "502":
        stack.fake.fail_next("deleteMessages", error_code=502, times=2)
    else:
        stack.fake.drop_next("deleteMessages", times=2)
    await user.press("✖ Quitter")
    assert await stack.state.count() == 0, "the state is reset first, whatever Telegram answers"
    assert apologies(user) == []
    await stack.fake.wait_for(lambda: only_neutral(stack, user), timeout=15)
    left = await exit_finished(stack, user)
    assert [m["text"] for m in left] == [NEUTRAL]
    assert len([f for f in stack.fake.faults if f.method == "deleteMessages"]) == 2, "the faults were met"
    assert stack.fake.refused == []


async def test_exit_survives_faults_on_every_call_it_makes(stack: Stack) -> None:
    """Telegram failing on the neutral line, the deletion and the blanking, all at once."""
    user = await begun_hours_ago(stack, 49)
    await user.send("/help")
    stack.fake.fail_next("sendMessage", error_code=500)
    stack.fake.drop_next("deleteMessages")
    stack.fake.fail_next("deleteMessages", error_code=429, retry_after=1)
    stack.fake.fail_next("editMessageText", error_code=502)
    await user.press("✖ Quitter")
    assert await stack.state.count() == 0
    left = await exit_finished(stack, user)
    assert [m.get("text") for m in left] == [NEUTRAL], "the old screen is blanked, the rest deleted"
    assert apologies(user) == []
    assert stack.fake.refused == []


async def test_exit_pressed_on_an_older_screen_deletes_the_newer_messages_too(stack: Stack) -> None:
    user = stack.user()
    await user.send("/start")
    first_screen = user.last()["message_id"]
    await user.press("J'ai compris")
    await user.send("bonjour")  # a new screen below; the first keeps its buttons
    await user.send("/help")
    assert len(user.bot_messages()) >= 3
    await user.press("✖ Quitter", message_id=first_screen)
    left = await exit_finished(stack, user)
    assert [m["text"] for m in left] == [NEUTRAL]
    assert stack.fake.refused == []


async def test_a_conversation_whose_first_message_is_49_hours_old(stack: Stack) -> None:
    user = await begun_hours_ago(stack, 49)
    old_screen = user.last()["message_id"]
    await user.send("bonjour")  # recent: a new screen, and the old one keeps what it showed
    await user.press("Oui, je suis en sécurité")
    await user.send("/help")
    recent = [m["message_id"] for m in user.bot_messages() if m["message_id"] != old_screen]
    assert recent, "there are recent bot messages to delete"
    await user.press("✖ Quitter")
    left = await exit_finished(stack, user)
    assert all(m["message_id"] not in recent for m in left), "every recent message is deleted"
    assert [m.get("text") for m in left] == [NEUTRAL], "the old screen is blanked, not left as it was"
    assert left[0]["message_id"] == old_screen and "reply_markup" not in left[0]
    assert_nothing_deletable_left(stack, user, left)
    assert stack.fake.refused == []


async def test_a_conversation_over_several_days_keeps_its_state_small(stack: Stack) -> None:
    """Hours apart, for days: the state stays small, and the exit reaches what it can."""
    stack.app.runtime.clock = stack.fake.now
    user = stack.user()
    await user.send("/start")
    for _ in range(30):
        stack.fake.advance(5 * 3600)
        await user.send("/help")
    state = await stack.state.dump()
    assert len(state) < 800, f"the state grew with the conversation: {len(state)} characters"
    await user.press("✖ Quitter")
    left = await exit_finished(stack, user)
    assert_nothing_deletable_left(stack, user, left)
    assert stack.fake.refused == []


async def test_pressing_exit_twice_and_then_typing_exit(stack: Stack) -> None:
    user = stack.user()
    await walk_to_consent(user)
    screen = user.last()
    stack.fake.fail_next("deleteMessages", error_code=429, retry_after=1)  # the first exit is still busy
    first = stack.fake.push({"callback_query": stack.fake.new_callback_query(user.user, screen, "x")})
    second = stack.fake.push({"callback_query": stack.fake.new_callback_query(user.user, screen, "x")})
    await stack.fake.processed(first["update_id"])
    await stack.fake.processed(second["update_id"])
    await user.send("/exit")
    left = await exit_finished(stack, user)
    assert left and all(m.get("text") == NEUTRAL for m in left)
    assert len(left) <= 2, "at most one more neutral line for the typed /exit"
    assert apologies(user) == [] and await stack.state.count() == 0
    assert stack.fake.unanswered_callback_queries() == []
    assert stack.fake.refused == []


async def test_a_flood_of_exits_under_faults(stack: Stack) -> None:
    user = stack.user()
    await walk_to_consent(user)
    screen = user.last()
    stack.fake.fail_next("deleteMessages", error_code=429, retry_after=1, times=3)
    stack.fake.fail_next("sendMessage", error_code=502, times=2)
    presses = [stack.fake.new_callback_query(user.user, screen, "x") for _ in range(20)]
    pushed = [stack.fake.push({"callback_query": press}) for press in presses]
    for update in pushed:
        await stack.fake.processed(update["update_id"])
    left = await exit_finished(stack, user, timeout=30)
    assert left and all(m.get("text") == NEUTRAL for m in left) and len(left) <= 2
    assert apologies(user) == [] and await stack.state.count() == 0
    assert stack.fake.refused == []


async def test_exit_when_the_neutral_line_cannot_be_sent_at_first(stack: Stack) -> None:
    user = stack.user()
    await user.send("/start")
    stack.fake.fail_next("sendMessage", error_code=500, times=2)
    await user.send("/exit")
    assert await stack.state.count() == 0
    await stack.fake.wait_for(lambda: only_neutral(stack, user), timeout=15)
    assert apologies(user) == []
    assert stack.fake.refused == []


async def test_a_shutdown_while_deleting_stops_cleanly_and_writes_nothing(
    backend: Backend, captured_logs: io.StringIO
) -> None:
    async with running_stack(backend, captured_logs) as stack:
        user = stack.user()
        await walk_to_consent(user)
        stack.fake.fail_next("deleteMessages", error_code=429, retry_after=60, times=5)
        await user.press("✖ Quitter")
        await stack.fake.wait_for(lambda: any(f.method == "deleteMessages" for f in stack.fake.faults))
        runtime = stack.app.runtime
        assert getattr(runtime, "erasures", None) is not None and runtime.erasures.pending, "still deleting"
        assert str(user.chat_id) not in await stack.state.dump(), "no chat id in the state or Redis"
        loop = asyncio.get_running_loop()
        started = loop.time()
    assert loop.time() - started < 15, "the shutdown does not wait for Telegram's retry_after"
    assert not runtime.erasures.pending, "cancelled, not left running"
    database = backend.database_bytes()
    assert str(user.chat_id).encode() not in database, "no chat id written for a pending deletion"
    assert "Traceback" not in captured_logs.getvalue()


async def test_a_neutral_line_whose_answer_was_lost_is_not_left_twice(stack: Stack) -> None:
    """Telegram sent the neutral line but the answer was lost: it is sent again, and the
    first copy, below the second, is deleted with the rest."""
    user = stack.user()
    await walk_to_consent(user)
    stack.fake.drop_next("sendMessage", after_processing=True)
    await user.press("✖ Quitter")
    left = await exit_finished(stack, user)
    assert [m["text"] for m in left] == [NEUTRAL]
    assert [f.method for f in stack.fake.faults] == ["sendMessage"], "the fault was met"
    assert stack.fake.refused == []


async def test_the_state_is_gone_before_telegram_is_asked_anything(stack: Stack) -> None:
    """Even the answer to the press waits: the state is reset and saved first."""
    user = stack.user()
    await walk_to_consent(user)
    stack.fake.delay_next("answerCallbackQuery", 1.0)
    stack.fake.delay_next("sendMessage", 1.0)
    press = stack.fake.push({"callback_query": stack.fake.new_callback_query(user.user, user.last(), "x")})
    await stack.fake.wait_for(lambda: stack.fake.delayed)
    assert await stack.state.count() == 0, "reset while Telegram has not answered yet"
    await stack.fake.processed(press["update_id"])
    left = await exit_finished(stack, user)
    assert [m["text"] for m in left] == [NEUTRAL]
    assert stack.fake.refused == []
