"""What the state keeps after a handoff: only what opens the mailbox, and that sealed.

Whoever reads the state (a Redis dump, a seized server) must not be able to open a
mailbox with it: the code is sealed under a key that needs PASSERELLE_SECRET and the
person's Telegram ids, never the storage key alone.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiogram.fsm.storage.base import StorageKey

from bot.app import App
from tests.support.fake_telegram import FakeUser
from tests.support.handoff_fixtures import enrolled_directory
from tests.support.stack import SECRET, Stack, make_settings
from tests.test_handoff import consent_and_send, wait_notice

ANSWER_KEYS = ("safe", "age", "needs", "departement", "contact", "interpreter")
ANSWER_VALUES = ("adult", "health", "mailbox", "exit")


def forms_of(code: str) -> list[str]:
    """The code as shown, as typed, and as any normalisation would keep it."""
    compact = code.replace("-", "")
    return [code, compact, code.lower(), compact.lower(), code.replace("-", " "), code[:4] + code[5:9]]


async def data_of(stack: Stack, user: FakeUser) -> dict[str, Any]:
    return await stack.app.dispatcher.storage.get_data(storage_key(stack, user))


def storage_key(stack: Stack, user: FakeUser) -> StorageKey:
    return StorageKey(bot_id=stack.fake.bot_user["id"], chat_id=user.chat_id, user_id=user.id)


async def assert_nothing_opens_the_mailbox(stack: Stack, code: str) -> None:
    held = await stack.state.dump()
    assert "fsm:" in held, "the dump is live"
    for form in forms_of(code):
        assert form not in held, f"the code is readable in the state as {form!r}"


async def test_after_a_handoff_the_state_holds_no_code_and_no_answers(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    user = stack.user()
    code = await consent_and_send(user)
    await wait_notice(stack, directory, "test-paris")
    await assert_nothing_opens_the_mailbox(stack, code)
    held = await stack.state.dump()
    for key in ANSWER_KEYS:
        assert f'"{key}"' not in held, f"the coded answer {key!r} is still in the state"
    for value in ANSWER_VALUES:
        assert value not in held, f"the coded value {value!r} is still in the state"
    data = await data_of(stack, user)
    assert set(data) <= {"l", "r", "m", "o", "k", "q", "t"}, data
    assert len(json.dumps(data)) < 200, "the state stays small"

    await user.press("Voir les réponses")
    assert code in user.last()["text"] and "ne l'a pas encore acceptée" in user.last()["text"]
    await user.send("/start")
    assert code in user.last()["text"], "past a handoff, /start shows the mailbox"
    await assert_nothing_opens_the_mailbox(stack, code)
    assert stack.fake.refused == []


@asynccontextmanager
async def restarted(stack: Stack, secret: str) -> AsyncIterator[App]:
    """The app stopped and started again on the same database, with `secret`.

    Redis keeps the state across the restart; state in memory is carried over by hand,
    as a second instance would share it.
    """
    kept = dict(getattr(stack.app.dispatcher.storage, "_records", {}))
    await stack.app.stop()
    app = await App.create(make_settings(stack.backend, stack.fake.base_url, passerelle_secret=secret))
    if stack.state.redis is None:
        app.dispatcher.storage._records.update(kept)  # type: ignore[attr-defined]  # the memory storage's private records, to replay an old state
    task = asyncio.create_task(app.run_polling(handle_as_tasks=False, handle_signals=False))
    await stack.fake.wait_for(lambda: stack.fake.polls > 0)
    try:
        yield app
    finally:
        await app.stop()
        await task
        await app.close()


async def test_the_mailbox_opens_after_a_restart_with_the_same_secret(stack: Stack) -> None:
    await enrolled_directory(stack)
    user = stack.user()
    code = await consent_and_send(user)
    async with restarted(stack, SECRET):
        await user.press("Voir les réponses")
        assert code in user.last()["text"] and "Votre demande" in user.last()["text"]
    assert stack.fake.refused == []


async def test_another_secret_or_another_person_cannot_open_the_sealed_code(stack: Stack) -> None:
    """The sealed value, copied under another key, opens nothing: a kind restart, no error."""
    await enrolled_directory(stack)
    user = stack.user()
    code = await consent_and_send(user)
    sealed = await data_of(stack, user)
    assert "t" in sealed

    other = stack.user(10_002)
    await other.send("/start")
    await stack.app.dispatcher.storage.set_data(storage_key(stack, other), sealed)  # someone copies the blob
    await other.press_data("m:check", other.last()["message_id"])
    assert code not in other.last()["text"] and "conversation précédente a été effacée" in other.last()["text"]
    assert "t" not in await data_of(stack, other), "what does not open is dropped"

    async with restarted(stack, "another-secret-" + "1" * 32) as app:
        await app.dispatcher.storage.set_data(storage_key(stack, user), sealed)
        await user.press("Voir les réponses")
        text = user.last()["text"]
        assert code not in text and "conversation précédente a été effacée" in text, text
        assert "Désolé" not in text
    assert stack.fake.refused == []


async def test_an_old_state_with_a_clear_code_still_loads(stack: Stack) -> None:
    """States written before the code was sealed hold it in clear: it opens, then is sealed."""
    await enrolled_directory(stack)
    user = stack.user()
    code = await consent_and_send(user)
    await stack.state.edit_data(lambda data: data.update(t=code))
    assert code in await stack.state.dump()
    await user.press("Voir les réponses")
    assert code in user.last()["text"] and "Votre demande" in user.last()["text"]
    await assert_nothing_opens_the_mailbox(stack, code)
    assert stack.fake.refused == []


async def test_past_a_handoff_emergency_back_and_start_again_still_work(stack: Stack) -> None:
    """The state holds no script step after a handoff, yet every button of its screens acts."""
    await enrolled_directory(stack)
    user = stack.user()
    code = await consent_and_send(user)
    await user.press("Urgence")
    assert "17" in user.last()["text"]
    await user.press("Retour")
    assert code in user.last()["text"], "back from the emergency screen: the mailbox, with the code"
    await user.press("Recommencer")
    assert "sans donner votre nom" in user.last()["text"], "the first screen of the script"
    assert stack.fake.refused == []
