"""Tests of the fake Bot API server, driven through aiogram's real Bot (and Dispatcher).

Why: every other test trusts the fake to refuse what Telegram refuses and to answer what
aiogram can parse; this module is where that trust is earned.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiogram import Bot, Dispatcher, F, Router
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.filters import CommandStart
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    CallbackQuery,
    ChatFullInfo,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    MenuButtonCommands,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from aiohttp import web

from tests.support.fake_telegram import FakeTelegram, FakeUser
from tests.support.fake_telegram.errors import NOT_MODIFIED
from tests.support.fake_telegram.parse_mode import parse_html
from tests.support.fake_telegram.spec import SPEC_ENV, ApiSpec, default_spec_path

pytestmark = pytest.mark.asyncio

USER_ID = 42


def keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    """One button per row: (text, callback_data)."""
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text=t, callback_data=d)] for t, d in pairs])


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest_asyncio.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    client = fake.make_bot()
    yield client
    await client.session.close()


@pytest_asyncio.fixture
async def user(fake: FakeTelegram) -> FakeUser:
    return FakeUser(fake, USER_ID, first_name="Alice", username="alice")


async def raw_call(
    fake: FakeTelegram, method: str, token: str | None = None, **data: Any
) -> tuple[int, dict[str, Any]]:
    """POST like aiogram does (urlencoded form), for methods aiogram does not know."""
    url = f"{fake.base_url}/bot{token or fake.token}/{method}"
    async with aiohttp.ClientSession() as session, session.post(url, data=data) as response:
        return response.status, await response.json()


# --------------------------------------------------------------------------- basics


async def test_get_me_matches_the_token(fake: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == bot.id == fake.bot_user["id"]
    assert me.is_bot and me.username == "passerelle_test_bot"


async def test_send_message_round_trips_and_is_stored(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    sent = await bot.send_message(
        USER_ID,
        "<b>Bonjour</b> &amp; bienvenue 👋 <i>à toi</i>",
        parse_mode="HTML",
        reply_markup=keyboard(("Oui", "yes"), ("Non", "no")),
    )
    assert isinstance(sent, Message)
    assert sent.message_id == 1
    assert sent.chat.id == USER_ID and sent.chat.type == "private"
    assert sent.from_user is not None and sent.from_user.id == bot.id
    assert sent.text == "Bonjour & bienvenue 👋 à toi"
    assert sent.entities is not None
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [
        ("bold", 0, 7),
        ("italic", 23, 5),  # 👋 counts as two UTF-16 code units
    ]
    assert sent.reply_markup is not None
    expected = keyboard(("Oui", "yes"), ("Non", "no")).model_dump(exclude_none=True)
    assert sent.reply_markup.model_dump(exclude_none=True) == expected
    stored = fake.chats[USER_ID].messages[1]
    assert stored["text"] == sent.text
    assert user.buttons() == [("Oui", "yes"), ("Non", "no")]
    call = fake.requests[-1]
    assert call.method == "sendMessage" and call.ok
    assert call.params["chat_id"] == USER_ID  # decoded to int per the spec type
    assert call.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "yes"
    assert fake.refused == []


async def test_string_fields_are_never_json_decoded(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    sent = await bot.send_message(USER_ID, "[1, 2]")
    assert sent.text == "[1, 2]"
    sent = await bot.send_message(USER_ID, '{"a": 1}')
    assert sent.text == '{"a": 1}'


async def test_message_ids_are_shared_with_the_users_messages(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    fake.add_user_message(USER_ID, user.user, {"text": "salut"})
    sent = await bot.send_message(USER_ID, "Bonjour")
    assert sent.message_id == 2
    assert list(fake.chats[USER_ID].messages) == [1, 2]
    assert user.texts() == ["Bonjour"]


async def test_method_names_are_case_insensitive(fake: FakeTelegram, user: FakeUser) -> None:
    status, body = await raw_call(fake, "SENDMESSAGE", chat_id=str(USER_ID), text="hi")
    assert status == 200 and body["ok"] and body["result"]["text"] == "hi"
    assert fake.requests[-1].method == "sendMessage"


async def test_reply_keyboards_stay_in_the_chat_not_the_message(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    markup = ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text="📍 Ma position", request_location=True)]])
    sent = await bot.send_message(USER_ID, "Où es-tu ?", reply_markup=markup)
    assert sent.reply_markup is None
    assert user.reply_keyboard() == ["📍 Ma position"]


# --------------------------------------------------------------------------- refusals


async def test_unknown_method_is_not_found(fake: FakeTelegram) -> None:
    status, body = await raw_call(fake, "sendTelepathy", chat_id="1")
    assert status == 404
    assert body == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert [(c.method, c.error_code) for c in fake.refused] == [("sendTelepathy", 404)]


async def test_wrong_token_is_unauthorized(fake: FakeTelegram) -> None:
    other = Bot("123456:wrong-token", session=fake.make_bot().session)
    with pytest.raises(TelegramUnauthorizedError, match="Unauthorized"):
        await other.get_me()
    await other.session.close()
    assert fake.refused[-1].error_code == 401


async def test_missing_required_field(fake: FakeTelegram, user: FakeUser) -> None:
    status, body = await raw_call(fake, "sendMessage", text="hi")
    assert (status, body["description"]) == (400, "Bad Request: chat_id is empty")
    status, body = await raw_call(fake, "sendMessage", chat_id=str(USER_ID))
    assert (status, body["description"]) == (400, "Bad Request: message text is empty")
    status, body = await raw_call(fake, "deleteMessage", chat_id=str(USER_ID))
    assert (status, body["description"]) == (400, "Bad Request: message_id is empty")


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "<b> </b>"])
async def test_empty_text_is_refused(bot: Bot, user: FakeUser, text: str) -> None:
    with pytest.raises(TelegramBadRequest, match="^Telegram server says - Bad Request: message text is empty$"):
        await bot.send_message(USER_ID, text, parse_mode="HTML")


async def test_text_length_counts_characters_after_parsing(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    await bot.send_message(USER_ID, "x" * 4096)
    await bot.send_message(USER_ID, "<b>" + "é" * 4096 + "</b>", parse_mode="HTML")
    await bot.send_message(USER_ID, "&lt;" * 4096, parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="Bad Request: message is too long"):
        await bot.send_message(USER_ID, "x" * 4097)
    with pytest.raises(TelegramBadRequest, match="Bad Request: message is too long"):
        await bot.send_message(USER_ID, "<i>" + "x" * 4097 + "</i>", parse_mode="HTML")
    assert [c.description for c in fake.refused] == ["Bad Request: message is too long"] * 2


async def test_text_length_counts_utf16_units_of_the_visible_text(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    """An emoji or a rare CJK character is two UTF-16 units; tags and entities count as what they show."""
    await bot.send_message(USER_ID, "😀" * 2048)
    await bot.send_message(USER_ID, "<b>" + "𠀀" * 2047 + "</b>&lt;&amp;", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="Bad Request: message is too long"):
        await bot.send_message(USER_ID, "😀" * 2048 + "x")
    with pytest.raises(TelegramBadRequest, match="Bad Request: message is too long"):
        await bot.send_message(USER_ID, "<i>" + "𠀀" * 2049 + "</i>", parse_mode="HTML")
    message = (await bot.send_message(USER_ID, "ok")).message_id
    with pytest.raises(TelegramBadRequest, match="Bad Request: message is too long"):
        await bot.edit_message_text("🙂" * 2049, chat_id=USER_ID, message_id=message)
    assert len(fake.refused) == 3


async def test_protect_content_marks_the_message(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    protected = await bot.send_message(USER_ID, "code", protect_content=True)
    plain = await bot.send_message(USER_ID, "hello")
    assert protected.has_protected_content is True and not plain.has_protected_content
    await bot.edit_message_text("code, edited", chat_id=USER_ID, message_id=protected.message_id)
    assert user.chat_state.messages[protected.message_id]["has_protected_content"] is True, "an edit keeps it"
    assert "has_protected_content" not in user.chat_state.messages[plain.message_id]


@pytest.mark.parametrize(
    ("data", "ok"),
    [("a", True), ("x" * 64, True), ("é" * 32, True), ("x" * 65, False), ("é" * 33, False)],
)
async def test_callback_data_is_1_to_64_bytes(bot: Bot, user: FakeUser, data: str, ok: bool) -> None:
    send = bot.send_message(USER_ID, "Choisis", reply_markup=keyboard(("A", data)))
    if ok:
        await send
    else:
        with pytest.raises(TelegramBadRequest, match="Bad Request: BUTTON_DATA_INVALID"):
            await send


async def test_empty_callback_data_is_refused(fake: FakeTelegram, user: FakeUser) -> None:
    markup = '{"inline_keyboard": [[{"text": "A", "callback_data": ""}]]}'
    status, body = await raw_call(fake, "sendMessage", chat_id=str(USER_ID), text="x", reply_markup=markup)
    assert (status, body["description"]) == (400, "Bad Request: BUTTON_DATA_INVALID")


async def test_buttons_need_text_and_an_action(bot: Bot, user: FakeUser) -> None:
    for button in (
        InlineKeyboardButton(text="", callback_data="a"),
        InlineKeyboardButton(text="Rien"),
    ):
        with pytest.raises(TelegramBadRequest, match="text buttons are unallowed in the inline keyboard"):
            await bot.send_message(USER_ID, "x", reply_markup=InlineKeyboardMarkup(inline_keyboard=[[button]]))


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("<b>gras", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag"),
        ("ligne<br>suivante", 'Unsupported start tag "br"'),
        ("<p>x</p>", 'Unsupported start tag "p"'),
        ("2 < 3", 'Unsupported start tag ""'),
        ("3 > 2", 'Character ">" is reserved'),
        ("Tom & Jerry", 'Character "&" is reserved'),
        ("caf&eacute;", 'Unsupported HTML entity "&eacute;"'),
        ("&#xD800;", "Unsupported HTML entity"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler"'),
        ('<span class="spoiler">x</span>', 'Tag "span" must have class "tg-spoiler"'),
        ("<tg-emoji>👍</tg-emoji>", "emoji-id"),
        ('<a href="x>y</a>', "Unclosed end of attribute value"),
        ("<b", "Unclosed start tag"),
    ],
)
async def test_malformed_html_is_refused(bot: Bot, user: FakeUser, html: str, error: str) -> None:
    with pytest.raises(TelegramBadRequest, match="Bad Request: can't parse entities: ") as caught:
        await bot.send_message(USER_ID, html, parse_mode="HTML")
    assert error in caught.value.message


async def test_html_without_parse_mode_is_plain_text(bot: Bot, user: FakeUser) -> None:
    sent = await bot.send_message(USER_ID, "3 > 2 & <br>")
    assert sent.text == "3 > 2 & <br>" and sent.entities is None


async def test_parse_html_entities() -> None:
    text, entities = parse_html(
        '<b>a<i>b</i></b> <a href="https://x.fr/?a=1&amp;b=2">lien</a> '
        '<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler> '
        '<pre><code class="language-python">print(1)</code></pre>'
        "<blockquote expandable>q</blockquote>"
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>'
        '<tg-time unix="1700000000" format="wDT">date</tg-time>'
        "&#233;&#xE9;&quot;&lt;&gt;"
        '<a href="tg://user?id=42">moi</a><STRONG>X</STRONG><s>d</s><u>u</u><code>c</code>'
    )
    assert text == 'ab lien st print(1)q👍dateéé"<>moiXduc'
    kinds = [(e["type"], e["offset"], e["length"]) for e in entities]
    assert ("bold", 0, 2) in kinds and ("italic", 1, 1) in kinds
    by_type = {e["type"]: e for e in entities}
    assert by_type["text_link"]["url"] == "https://x.fr/?a=1&b=2"
    assert by_type["pre"]["language"] == "python"
    assert by_type["expandable_blockquote"]["length"] == 1
    assert by_type["custom_emoji"]["custom_emoji_id"] == "5368324170671202286"
    assert by_type["custom_emoji"]["length"] == 2
    assert by_type["date_time"]["unix_time"] == 1700000000
    assert by_type["text_mention"]["user"]["id"] == 42
    assert sum(1 for e in entities if e["type"] == "spoiler") == 2
    assert [e["offset"] for e in entities] == sorted(e["offset"] for e in entities)


async def test_unsupported_parse_mode(bot: Bot, user: FakeUser) -> None:
    with pytest.raises(TelegramBadRequest, match="unsupported parse_mode"):
        await bot.send_message(USER_ID, "x", parse_mode="BBCode")


async def test_edit_to_identical_content_is_not_modified(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    markup = keyboard(("Oui", "yes"))
    sent = await bot.send_message(USER_ID, "<b>Question</b>", parse_mode="HTML", reply_markup=markup)
    with pytest.raises(TelegramBadRequest) as caught:
        await bot.edit_message_text(
            text="<b>Question</b>",
            chat_id=USER_ID,
            message_id=sent.message_id,
            parse_mode="HTML",
            reply_markup=markup,
        )
    assert caught.value.message == f"Bad Request: {NOT_MODIFIED}"
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(chat_id=USER_ID, message_id=sent.message_id, reply_markup=markup)

    # Same text without the bold entity is a modification; so is dropping the keyboard.
    edited = await bot.edit_message_text(
        text="Question", chat_id=USER_ID, message_id=sent.message_id, reply_markup=markup
    )
    assert isinstance(edited, Message) and edited.entities is None and edited.edit_date
    edited = await bot.edit_message_text(text="Question", chat_id=USER_ID, message_id=sent.message_id)
    assert isinstance(edited, Message) and edited.reply_markup is None
    assert "reply_markup" not in fake.chats[USER_ID].messages[sent.message_id]
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(chat_id=USER_ID, message_id=sent.message_id)
    edited = await bot.edit_message_reply_markup(
        chat_id=USER_ID, message_id=sent.message_id, reply_markup=keyboard(("Non", "no"))
    )
    assert isinstance(edited, Message) and user.buttons() == [("Non", "no")]
    assert len(fake.refused) == 3


async def test_editing_missing_or_foreign_messages(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    own = fake.add_user_message(USER_ID, user.user, {"text": "à moi"})
    sent = await bot.send_message(USER_ID, "x")
    await bot.delete_message(USER_ID, sent.message_id)
    for message_id in (999, own["message_id"], sent.message_id):
        with pytest.raises(TelegramBadRequest, match="^Telegram server says - Bad Request: message to edit not found$"):
            await bot.edit_message_text(text="y", chat_id=USER_ID, message_id=message_id)
        with pytest.raises(TelegramBadRequest, match="message to edit not found"):
            await bot.edit_message_reply_markup(
                chat_id=USER_ID, message_id=message_id, reply_markup=keyboard(("A", "a"))
            )


async def test_delete_rules(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    old = await bot.send_message(USER_ID, "vieux")
    incoming = fake.add_user_message(USER_ID, user.user, {"text": "mot de passe"})
    assert await bot.delete_message(USER_ID, incoming["message_id"])  # incoming, private chat
    with pytest.raises(TelegramBadRequest, match="^Telegram server says - Bad Request: message to delete not found$"):
        await bot.delete_message(USER_ID, incoming["message_id"])
    fake.advance(48 * 3600 + 1)
    young = await bot.send_message(USER_ID, "jeune")
    with pytest.raises(TelegramBadRequest, match="Bad Request: message can't be deleted"):
        await bot.delete_message(USER_ID, old.message_id)
    assert await bot.delete_messages(USER_ID, [young.message_id, old.message_id, 12345])
    assert list(fake.chats[USER_ID].messages) == [old.message_id]  # too old: skipped


async def test_chat_not_found(fake: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="Bad Request: chat not found"):
        await bot.send_message(999, "x")
    with pytest.raises(TelegramBadRequest, match="Bad Request: chat not found"):
        await bot.send_chat_action(999, "typing")
    assert [c.method for c in fake.refused] == ["sendMessage", "sendChatAction"]


async def test_blocked_user_forbids_sending(bot: Bot, user: FakeUser) -> None:
    user.block()
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(USER_ID, "x")
    user.unblock()
    await bot.send_message(USER_ID, "x")


async def test_callback_queries_are_answered_once(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    sent = await bot.send_message(USER_ID, "Choisis", reply_markup=keyboard(("A", "a")))
    query = fake.new_callback_query(user.user, fake.chats[USER_ID].messages[sent.message_id], "a")
    assert fake.unanswered_callback_queries() == [query["id"]]
    with pytest.raises(TelegramBadRequest, match="Bad Request: MESSAGE_TOO_LONG"):
        await bot.answer_callback_query(query["id"], text="x" * 201)
    assert await bot.answer_callback_query(query["id"], text="x" * 200, show_alert=True)
    assert fake.callback_answers[query["id"]] == {"text": "x" * 200, "show_alert": True}
    too_old = "Bad Request: query is too old and response timeout expired or query ID is invalid"
    for query_id in (query["id"], "123"):
        with pytest.raises(TelegramBadRequest) as caught:
            await bot.answer_callback_query(query_id)
        assert caught.value.message == too_old
    assert fake.unanswered_callback_queries() == []


async def test_every_refusal_is_recorded(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    with pytest.raises(TelegramBadRequest):
        await bot.send_message(USER_ID, "<b>", parse_mode="HTML")
    await bot.send_message(USER_ID, "ok")
    [refusal] = fake.refused
    assert refusal.method == "sendMessage"
    assert refusal.params == {"chat_id": USER_ID, "text": "<b>", "parse_mode": "HTML"}
    assert refusal.error_code == 400
    assert refusal.description.startswith("Bad Request: can't parse entities:")
    assert [c.ok for c in fake.requests] == [False, True]


# --------------------------------------------------------------------------- fault injection


async def test_fail_next_429_carries_retry_after(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    fake.fail_next("sendMessage", retry_after=7, times=2)
    for _ in range(2):
        with pytest.raises(TelegramRetryAfter) as caught:
            await bot.send_message(USER_ID, "x")
        assert caught.value.retry_after == 7
        assert "Too Many Requests: retry after 7" in caught.value.message
    await bot.send_message(USER_ID, "x")
    assert fake.refused == []  # injected failures are not the bot's mistakes
    assert [c.error_code for c in fake.faults] == [429, 429]


@pytest.mark.parametrize(
    ("code", "exception", "description"),
    [
        (500, TelegramServerError, "Internal Server Error"),
        (502, TelegramServerError, "Bad Gateway"),
        (403, TelegramForbiddenError, "Forbidden: bot was blocked by the user"),
    ],
)
async def test_fail_next_errors(
    fake: FakeTelegram, bot: Bot, user: FakeUser, code: int, exception: type[Exception], description: str
) -> None:
    fake.fail_next("SendMessage", error_code=code)
    with pytest.raises(exception, match=description):
        await bot.send_message(USER_ID, "x")
    assert user.bot_messages() == []


async def test_fail_next_custom_description(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail_next("getMe", error_code=400, description="Bad Request: custom")
    with pytest.raises(TelegramBadRequest, match="Bad Request: custom"):
        await bot.get_me()
    with pytest.raises(ValueError, match="not a Bot API method"):
        fake.fail_next("sendTelepathy")


async def test_drop_next_is_a_network_error(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    fake.drop_next("sendMessage")
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(USER_ID, "perdu")
    assert user.bot_messages() == []
    fake.drop_next("sendMessage", after_processing=True)
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(USER_ID, "envoyé quand même")
    assert user.texts() == ["envoyé quand même"]
    await bot.send_message(USER_ID, "ensuite")
    assert user.texts() == ["envoyé quand même", "ensuite"]
    assert len(fake.faults) == 2 and fake.refused == []


async def test_a_fault_can_target_one_chat(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    group = fake.add_chat(-5001, "group", title="équipe")
    fake.fail_next("sendMessage", error_code=500, chat_id=-5001)
    fake.drop_next("sendMessage", chat_id=-5001)
    await bot.send_message(USER_ID, "pas celui-ci")
    with pytest.raises(TelegramServerError):
        await bot.send_message(-5001, "celui-ci")
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(-5001, "et celui-ci")
    await bot.send_message(-5001, "ensuite")
    assert user.texts() == ["pas celui-ci"] and [m["text"] for m in group.messages.values()] == ["ensuite"]


# --------------------------------------------------------------------------- getUpdates


def message_update(fake: FakeTelegram, user: FakeUser, text: str) -> dict[str, Any]:
    return fake.push({"message": fake.add_user_message(USER_ID, user.user, {"text": text})})


async def test_long_poll_returns_a_pushed_update_promptly(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=20))
    await asyncio.sleep(0.05)
    assert not poll.done()
    started = time.monotonic()
    pushed = message_update(fake, user, "coucou")
    updates = await asyncio.wait_for(poll, 2)
    assert time.monotonic() - started < 0.5
    assert len(updates) == 1 and isinstance(updates[0], Update)
    assert updates[0].update_id == pushed["update_id"]
    assert updates[0].message is not None and updates[0].message.text == "coucou"
    assert updates[0].message.from_user is not None and updates[0].message.from_user.id == USER_ID


async def test_get_updates_returns_queued_updates_at_once_and_confirms_by_offset(
    fake: FakeTelegram, bot: Bot, user: FakeUser
) -> None:
    first = message_update(fake, user, "un")
    second = message_update(fake, user, "deux")
    started = time.monotonic()
    assert [u.update_id for u in await bot.get_updates(timeout=20)] == [first["update_id"], second["update_id"]]
    assert [u.update_id for u in await bot.get_updates(timeout=20, limit=1)] == [first["update_id"]]
    assert time.monotonic() - started < 0.5
    waiting = asyncio.create_task(fake.processed(second["update_id"]))
    updates = await bot.get_updates(offset=first["update_id"] + 1, timeout=0)
    assert [u.update_id for u in updates] == [second["update_id"]]
    await fake.processed(first["update_id"], timeout=1)
    assert not waiting.done()
    assert await bot.get_updates(offset=second["update_id"] + 1, timeout=0) == []
    await asyncio.wait_for(waiting, 1)


async def test_get_updates_waits_for_its_timeout(bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == []
    assert 0.9 < time.monotonic() - started < 3


async def test_processed_times_out_with_a_clear_error(fake: FakeTelegram, user: FakeUser) -> None:
    update = message_update(fake, user, "personne n'écoute")
    with pytest.raises(AssertionError, match=f"did not finish update {update['update_id']}"):
        await fake.processed(update["update_id"], timeout=0.1)


async def test_a_second_poller_terminates_the_first(fake: FakeTelegram, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=20))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(bot.get_updates(timeout=1))
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await asyncio.wait_for(first, 2)
    assert await second == []


async def test_drop_pending_updates(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    update = message_update(fake, user, "oublié")
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates(timeout=0) == []
    with pytest.raises(AssertionError, match="dropped"):
        await fake.processed(update["update_id"])


async def test_webhook_blocks_get_updates(fake: FakeTelegram, bot: Bot) -> None:
    assert await bot.set_webhook("https://example.org/hook")
    info = await bot.get_webhook_info()
    assert info.url == "https://example.org/hook"
    with pytest.raises(TelegramConflictError, match="webhook is active"):
        await bot.get_updates(timeout=0)
    await bot.delete_webhook()
    assert (await bot.get_webhook_info()).url == ""
    assert await bot.log_out() and await bot.close()


async def test_allowed_updates_filters_new_updates(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    await bot.get_updates(timeout=0, allowed_updates=["message"])
    sent = await bot.send_message(USER_ID, "x", reply_markup=keyboard(("A", "a")))
    await user.press("A")  # not delivered, so it counts as handled at once
    assert [u for u in fake.filtered_updates if "callback_query" in u]
    assert await bot.get_updates(timeout=0) == []
    assert sent.message_id == 1


async def test_wait_for_rechecks_on_each_request(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    async def later() -> None:
        await asyncio.sleep(0.05)
        await bot.send_message(USER_ID, "enfin")

    task = asyncio.create_task(later())
    found = await fake.wait_for(lambda: user.texts() == ["enfin"], timeout=2)
    assert found is True
    await task
    with pytest.raises(AssertionError, match="still false"):
        await fake.wait_for(lambda: False, timeout=0.05)


# --------------------------------------------------------------------------- bot settings, other methods


async def test_commands_per_scope_and_language(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    fr = [BotCommand(command="start", description="Commencer")]
    chat_en = [BotCommand(command="help", description="Help")]
    assert await bot.set_my_commands(fr, language_code="fr")
    assert await bot.set_my_commands(chat_en, scope=BotCommandScopeChat(chat_id=USER_ID), language_code="en")
    assert fake.commands[("default", "fr")] == [{"command": "start", "description": "Commencer"}]
    assert fake.commands[(f"chat:{USER_ID}", "en")] == [{"command": "help", "description": "Help"}]
    got = await bot.get_my_commands(language_code="fr")
    assert [(c.command, c.description) for c in got] == [("start", "Commencer")]
    assert await bot.get_my_commands() == []
    got = await bot.get_my_commands(scope=BotCommandScopeChat(chat_id=USER_ID), language_code="en")
    assert [(c.command, c.description) for c in got] == [("help", "Help")]
    assert await bot.delete_my_commands(language_code="fr")
    assert await bot.get_my_commands(language_code="fr") == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Start", description="x")])


async def test_descriptions_per_language(fake: FakeTelegram, bot: Bot) -> None:
    assert await bot.set_my_description("Un bot", language_code="fr")
    assert await bot.set_my_short_description("Court")
    assert fake.descriptions == {"fr": "Un bot"}
    assert fake.short_descriptions == {"": "Court"}
    assert (await bot.get_my_description(language_code="fr")).description == "Un bot"
    assert (await bot.get_my_description()).description == ""
    assert (await bot.get_my_short_description()).short_description == "Court"
    with pytest.raises(TelegramBadRequest, match="too long"):
        await bot.set_my_short_description("x" * 121)
    assert await bot.set_my_description(None, language_code="fr")
    assert fake.descriptions == {}


async def test_menu_button_and_chat_action(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    assert await bot.set_chat_menu_button(chat_id=USER_ID, menu_button=MenuButtonCommands())
    assert fake.menu_buttons[USER_ID] == {"type": "commands"}
    assert isinstance(await bot.get_chat_menu_button(chat_id=USER_ID), MenuButtonCommands)
    assert await bot.send_chat_action(USER_ID, "typing")
    status, body = await raw_call(fake, "sendChatAction", chat_id=str(USER_ID), action="dancing")
    assert (status, body["description"]) == (400, "Bad Request: wrong parameter action in request")


async def test_other_methods_answer_something_aiogram_parses(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    sent = await bot.send_message(USER_ID, "x")
    assert await bot.pin_chat_message(USER_ID, sent.message_id) is True
    chat = await bot.get_chat(USER_ID)
    assert isinstance(chat, ChatFullInfo) and chat.id == USER_ID and chat.first_name == "Alice"
    member = await bot.get_chat_member(USER_ID, USER_ID)
    assert member.status == "member" and member.user.id == USER_ID
    location = await bot.send_location(USER_ID, latitude=48.85, longitude=2.35)
    assert location.location is not None and location.location.latitude == 48.85
    sticker = await bot.send_sticker(USER_ID, "CAACAgIAAxkBAAE")
    assert sticker.sticker is not None and sticker.sticker.file_id == "CAACAgIAAxkBAAE"
    upload = BufferedInputFile(b"\xff\xd8fake", "plan.jpg")
    photo = await bot.send_photo(USER_ID, upload, caption="<b>Plan</b>", parse_mode="HTML")
    assert photo.photo and photo.caption == "Plan"
    assert fake.requests[-1].params["photo"]["filename"] == "plan.jpg"
    assert fake.requests[-1].params["photo"]["data"] == b"\xff\xd8fake"
    copy = await bot.copy_message(USER_ID, USER_ID, sent.message_id)
    assert fake.chats[USER_ID].messages[copy.message_id]["text"] == "x"
    assert [m.message_id for m in [sent, location, sticker, photo]] == [1, 2, 3, 4]
    status, body = await raw_call(fake, "banChatMember", chat_id="-100", user_id="1")
    assert (status, body["description"]) == (400, "Bad Request: chat not found")
    assert len(fake.refused) == 1


async def test_reply_to_a_missing_message(bot: Bot, user: FakeUser) -> None:
    first = await bot.send_message(USER_ID, "a")
    reply = await bot.send_message(USER_ID, "b", reply_to_message_id=first.message_id)
    assert reply.reply_to_message is not None and reply.reply_to_message.text == "a"
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(USER_ID, "c", reply_to_message_id=999)


# --------------------------------------------------------------------------- spec loading


async def test_spec_path_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert default_spec_path().name == "bot-api.json"
    monkeypatch.setenv(SPEC_ENV, str(tmp_path / "missing.json"))
    with pytest.raises(FileNotFoundError, match=SPEC_ENV):
        default_spec_path()
    with pytest.raises(FileNotFoundError, match="not found"):
        ApiSpec.load(tmp_path / "missing.json")


async def test_spec_indexes_methods_case_insensitively() -> None:
    spec = ApiSpec.load()
    method = spec.method("SENDMESSAGE")
    assert method is not None and method.name == "sendMessage"
    assert set(method.required) == {"chat_id", "text"}
    assert method.kinds["chat_id"] == "int_or_str" and method.kinds["reply_markup"] == "json"


# --------------------------------------------------------------------------- scripted users, real dispatcher


def make_dispatcher() -> Dispatcher:
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        await message.answer(
            "<b>Bienvenue</b> ! Tu viens ?",
            parse_mode="HTML",
            reply_markup=keyboard(("✅ Oui", "rsvp:yes"), ("❌ Non", "rsvp:no")),
        )

    @router.message(F.location)
    async def location(message: Message) -> None:
        assert message.location is not None
        await message.answer(f"Reçu {message.location.latitude:.2f}")

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(f"Écho : {message.text}")

    @router.edited_message()
    async def edited(message: Message) -> None:
        await message.answer(f"Modifié : {message.text}")

    @router.callback_query(F.data.startswith("rsvp:"))
    async def rsvp(query: CallbackQuery) -> None:
        assert isinstance(query.message, Message)
        await query.answer("Noté")
        await query.message.edit_text(f"Réponse : {query.data}")

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    return dispatcher


@pytest_asyncio.fixture
async def running_bot(fake: FakeTelegram, bot: Bot) -> AsyncIterator[Bot]:
    dispatcher = make_dispatcher()
    polling = asyncio.create_task(
        dispatcher.start_polling(
            bot, handle_as_tasks=False, handle_signals=False, close_bot_session=False, polling_timeout=30
        )
    )
    yield bot
    await dispatcher.stop_polling()
    await polling


async def test_scripted_user_through_the_real_dispatcher(fake: FakeTelegram, running_bot: Bot) -> None:
    alice = FakeUser(fake, USER_ID, first_name="Alice", username="alice")
    update = await alice.send("/start")
    assert update["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert alice.texts() == ["Bienvenue ! Tu viens ?"]
    assert alice.buttons() == [("✅ Oui", "rsvp:yes"), ("❌ Non", "rsvp:no")]

    await alice.press("oui")
    assert alice.last()["text"] == "Réponse : rsvp:yes"
    assert alice.buttons() == []  # edit without reply_markup removes the keyboard
    assert list(fake.callback_answers.values()) == [{"text": "Noté"}]

    await alice.send("bonjour")
    assert alice.last()["text"] == "Écho : bonjour"
    mine = [m for m in fake.chats[USER_ID].messages.values() if m["from"]["id"] == USER_ID]
    await alice.edit(mine[-1]["message_id"], "bonsoir")
    assert alice.last()["text"] == "Modifié : bonsoir"
    await alice.share_location(48.8566, 2.3522)
    assert alice.last()["text"] == "Reçu 48.86"

    with pytest.raises(AssertionError, match="no bot message with an inline keyboard"):
        await alice.press("Oui")
    assert fake.refused == []
    assert fake.unanswered_callback_queries() == []


async def test_press_finds_buttons_by_data_text_or_part(fake: FakeTelegram, running_bot: Bot) -> None:
    bob = FakeUser(fake, 43, language_code="en")
    await bob.send("/start")
    first = bob.last()["message_id"]
    await bob.press("rsvp:no")
    assert bob.last()["text"] == "Réponse : rsvp:no"
    await bob.send("/start")
    with pytest.raises(AssertionError, match="no button matching 'peut-être'.*✅ Oui"):
        await bob.press("peut-être")
    with pytest.raises(AssertionError, match="2 buttons match 'o'"):
        await bob.press("o")  # in both "✅ Oui" and "❌ Non"
    await bob.press_data("rsvp:forged", first)
    assert fake.chats[43].messages[first]["text"] == "Réponse : rsvp:forged"


async def test_many_users_concurrently(fake: FakeTelegram, running_bot: Bot) -> None:
    users = [FakeUser(fake, 1000 + i) for i in range(50)]
    await asyncio.gather(*(u.send(f"salut {u.id}") for u in users))
    for u in users:
        assert u.texts() == [f"Écho : salut {u.id}"]
    assert fake.refused == []


# --------------------------------------------------------------------------- webhook mode


@asynccontextmanager
async def webhook_receiver(handle: Any) -> AsyncIterator[str]:
    """A bare aiohttp server standing in for a bot's webhook; yields its URL."""
    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{site.port}/hook"
    finally:
        await runner.cleanup()


async def test_webhook_posts_each_update_with_the_secret_token(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    received: list[tuple[str | None, str, dict[str, Any]]] = []

    async def handle(request: web.Request) -> web.Response:
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        received.append((secret, request.content_type, await request.json()))
        return web.json_response({})

    async with webhook_receiver(handle) as url:
        assert await bot.set_webhook(url, secret_token="s3cret_Token-1")
        update = await user.send("bonjour")  # returns once the webhook answered 200
        assert received == [("s3cret_Token-1", "application/json", update)]
        assert received[0][2]["message"]["text"] == "bonjour"
        info = await bot.get_webhook_info()
        assert info.pending_update_count == 0 and info.last_error_message is None
    assert fake.webhook_failures == [] and fake.refused == []


async def test_webhook_retries_a_failed_delivery_and_records_it(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    statuses = [500, 200]
    seen: list[int] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append((await request.json())["update_id"])
        return web.json_response({}, status=statuses.pop(0))

    async with webhook_receiver(handle) as url:
        assert await bot.set_webhook(url)
        update = await user.send("encore")
        assert seen == [update["update_id"]] * 2
        assert [(f.update_id, f.attempt, f.status, f.error) for f in fake.webhook_failures] == [
            (update["update_id"], 1, 500, "HTTP 500")
        ]
        assert (await bot.get_webhook_info()).last_error_message == "HTTP 500"


async def test_webhook_gives_up_and_keeps_the_update_pending(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    async def handle(request: web.Request) -> web.Response:
        return web.Response(status=401, text="Unauthorized")

    async with webhook_receiver(handle) as url:
        assert await bot.set_webhook(url)
        with pytest.raises(AssertionError, match="failed 3 times: HTTP 401, HTTP 401, HTTP 401"):
            await user.send("perdu ?")
        assert len(fake.webhook_failures) == 3
        assert (await bot.get_webhook_info()).pending_update_count == 1
    # Not lost: once the webhook is deleted, getUpdates serves it.
    assert await bot.delete_webhook()
    updates = await bot.get_updates(timeout=0)
    assert [u.message.text for u in updates if u.message] == ["perdu ?"]


async def test_webhook_refused_connections_are_failures_too(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    async def handle(request: web.Request) -> web.Response:
        return web.json_response({})

    async with webhook_receiver(handle) as url:
        pass  # closed: nothing listens there any more
    fake.webhook_attempts = 2
    assert await bot.set_webhook(url)
    with pytest.raises(AssertionError, match="failed 2 times"):
        await user.send("personne")
    assert {f.status for f in fake.webhook_failures} == {None}
    assert all(f.error.startswith("Client") for f in fake.webhook_failures)


async def test_set_webhook_ends_a_waiting_long_poll(fake: FakeTelegram, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=20))
    await asyncio.sleep(0.05)
    assert await bot.set_webhook("https://example.org/hook")
    with pytest.raises(TelegramConflictError, match="terminated by setWebhook request"):
        await asyncio.wait_for(poll, 2)
    with pytest.raises(TelegramBadRequest, match="secret token"):
        await bot.set_webhook("https://example.org/hook", secret_token="not allowed!")


async def test_webhook_sends_one_update_at_a_time_per_chat(fake: FakeTelegram, bot: Bot) -> None:
    busy: dict[int, int] = {}
    most: dict[int, int] = {}
    overall = [0, 0]  # now, most

    async def handle(request: web.Request) -> web.Response:
        chat = (await request.json())["message"]["chat"]["id"]
        busy[chat] = busy.get(chat, 0) + 1
        overall[0] += 1
        most[chat] = max(most.get(chat, 0), busy[chat])
        overall[1] = max(overall)
        await asyncio.sleep(0.05)
        busy[chat] -= 1
        overall[0] -= 1
        return web.json_response({})

    users = [FakeUser(fake, 100 + n) for n in range(3)]
    async with webhook_receiver(handle) as url:
        assert await bot.set_webhook(url, max_connections=2)
        await asyncio.gather(*(u.send(f"m{k}") for u in users for k in range(3)))
    assert most == {100: 1, 101: 1, 102: 1}, "updates of one chat are never sent concurrently"
    assert overall[1] == 2, "different chats are, up to max_connections"


async def test_webhook_honours_allowed_updates(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    posted: list[dict[str, Any]] = []

    async def handle(request: web.Request) -> web.Response:
        posted.append(await request.json())
        return web.json_response({})

    sent = await bot.send_message(USER_ID, "x", reply_markup=keyboard(("A", "a")))
    async with webhook_receiver(handle) as url:
        assert await bot.set_webhook(url, allowed_updates=["message"])
        await user.press("A", sent.message_id)  # not delivered: counts as handled at once
        await user.send("texte")
    assert [list(u)[1] for u in posted] == ["message"]
    assert len(fake.filtered_updates) == 1


async def test_updates_pending_before_set_webhook_are_posted_to_it(
    fake: FakeTelegram, bot: Bot, user: FakeUser
) -> None:
    posted: list[int] = []

    async def handle(request: web.Request) -> web.Response:
        posted.append((await request.json())["update_id"])
        return web.json_response({})

    waiting = fake.push({"message": fake.add_user_message(USER_ID, user.user, {"text": "tôt"})})
    async with webhook_receiver(handle) as url:
        assert await bot.set_webhook(url)
        await fake.processed(waiting["update_id"])
    assert posted == [waiting["update_id"]]


async def test_aiogram_webhook_handler_behind_the_fake(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    """aiogram's own SimpleRequestHandler: a method returned in the answer is executed."""
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler

    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> Any:
        return message.answer("bonjour <b>toi</b>", parse_mode="HTML")  # answered in the webhook reply

    @router.message()
    async def echo(message: Message) -> None:
        await message.answer(f"écho : {message.text}")  # a call of its own

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    handler = SimpleRequestHandler(dispatcher, bot, handle_in_background=False, secret_token="tok")
    async with webhook_receiver(handler.handle) as url:
        assert await bot.set_webhook(url, secret_token="tok")
        await user.send("/start")
        assert user.last()["text"] == "bonjour toi"
        assert fake.requests[-1].method == "sendMessage" and fake.requests[-1].ok
        await user.send("salut")
        assert user.texts() == ["bonjour toi", "écho : salut"]
        assert await bot.set_webhook(url, secret_token="other")  # the bot now refuses the fake's posts
        with pytest.raises(AssertionError, match="HTTP 401"):
            await user.send("refusé")
    assert user.texts() == ["bonjour toi", "écho : salut"]
    assert fake.refused == []


async def test_delay_next_holds_the_answer(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    fake.delay_next("sendMessage", 0.3)
    started = time.monotonic()
    sending = asyncio.create_task(bot.send_message(USER_ID, "lent"))
    await fake.wait_for(lambda: fake.delayed == ["sendMessage"])
    assert user.bot_messages() == [], "the call takes effect after the delay"
    await sending
    assert time.monotonic() - started >= 0.3
    assert user.texts() == ["lent"]
