"""Button data, read back: the typed staff and moderator buttons keep the wire format of
the notices already sent, and refuse forged data; answers in an association chat speak
that chat's language, or the default one."""

from __future__ import annotations

import io
from typing import Any

import pytest
from sqlalchemy import select, update

from bot import texts
from bot.callbacks import ModeratorAction, ModeratorButton, NoticeAction, NoticeButton
from bot.moderation import SCRIPT_ID, po_text
from storage import approvals
from storage.models import Association, Ticket
from tests.support.backends import Backend
from tests.support.handoff_fixtures import enrolled_directory
from tests.support.stack import Stack, running_stack
from tests.test_handoff import consent_and_send


def test_notice_buttons_keep_the_wire_format_of_notices_already_sent() -> None:
    for action, code in ((NoticeAction.ACCEPT, "a"), (NoticeAction.DECLINE, "d"), (NoticeAction.PASS_ON, "p")):
        button = NoticeButton(action=action, ticket=123)
        assert button.pack() == f"t:{code}:123"
        assert NoticeButton.unpack(f"t:{code}:123") == button
    assert NoticeButton.unpack("t:r:7").action is NoticeAction.REPLY


def test_moderator_buttons_round_trip() -> None:
    for action in ModeratorAction:
        button = ModeratorButton(action=action, subject="zh_Hans", digest="0123abcd")
        assert ModeratorButton.unpack(button.pack()) == button
    assert ModeratorButton(action=ModeratorAction.APPROVE, subject="script", digest="0123abcd").pack() == (
        "mod:a:script:0123abcd"
    )
    assert ModeratorButton.unpack("mod:b:fr:89abcdef").action is ModeratorAction.ROLLBACK


@pytest.mark.parametrize(
    "data",
    [
        "t:x:1",
        "t:a:abc",
        "t:a:",
        "t:a:1:2",
        "x:a:1",
        "t:a:-1",
        "t:a: 1",
        "t:a:1_0",
        "t:a:+1",
        "t:a:1234567890123",
        "t",
        "",
        "t:a:1.5",
    ],
)
def test_forged_notice_data_is_refused(data: str) -> None:
    with pytest.raises((TypeError, ValueError)):
        NoticeButton.unpack(data)


@pytest.mark.parametrize(
    "data",
    [
        "mod:z:script:0123abcd",
        "mod:a:script:0123ABCD",
        "mod:a:script:0123abc",
        "mod:a:waytoolongsubject:0123abcd",
        "mod:a:f:0123abcd",
        "mod:a:fr-x:0123abcd",
        "mod:a:script",
        "t:a:script:0123abcd",
    ],
)
def test_forged_moderator_data_is_refused(data: str) -> None:
    with pytest.raises((TypeError, ValueError)):
        ModeratorButton.unpack(data)


def last_answer(stack: Stack) -> Any:
    return list(stack.fake.callback_answers.values())[-1].get("text")


async def test_a_pass_on_is_answered_in_the_language_of_the_chat_that_pressed(stack: Stack) -> None:
    """It used to take the language of the association the ticket went to."""
    directory = await enrolled_directory(stack)
    async with stack.app.runtime.db.begin() as session:
        await session.execute(update(Association).where(Association.slug == "test-paris").values(notice_locale="en"))
    stack.app.runtime.directory.expire()
    await consent_and_send(stack.user())
    staff = directory.staff["test-paris"]
    await stack.fake.wait_for(lambda: any(m.get("reply_markup") for m in staff.bot_messages()), timeout=10)
    notice = next(m for m in staff.bot_messages() if m.get("reply_markup"))
    async with stack.app.runtime.db() as session:
        ticket_id = await session.scalar(select(Ticket.id))
    assert ticket_id is not None
    await staff.press_data(NoticeButton(action=NoticeAction.PASS_ON, ticket=ticket_id).pack(), notice["message_id"])
    english = stack.app.runtime.catalogs.get("en").gettext(texts.NOTICE_PASSED)
    assert english != texts.NOTICE_PASSED
    assert last_answer(stack) == english
    async with stack.app.runtime.db() as session:
        assert (await session.get(Ticket, ticket_id)).tried[-1] != "test-paris"  # type: ignore[union-attr]  # the ticket was read just above


async def test_answers_in_a_chat_no_association_holds_use_the_default_locale(
    backend: Backend, captured_logs: io.StringIO
) -> None:
    """Refusals were hard-coded in French, whatever DEFAULT_LOCALE said."""
    async with running_stack(backend, captured_logs, default_locale="en") as english:
        group = english.user(60_001, chat_id=-3001, chat_type="group", chat_title="strangers")
        await group.send("/enroll WRONG-CODE")
        message = group.bot_messages()[-1]
        tr = english.app.runtime.catalogs.get("en")
        for action in NoticeAction:
            await group.press_data(NoticeButton(action=action, ticket=424242).pack(), message["message_id"])
            assert last_answer(english) == tr.gettext(texts.REQUEST_GONE), action


async def test_notice_buttons_are_labelled_from_the_catalogue_served_now(stack: Stack) -> None:
    """A catalogue approved while the bot runs labels the next notice's buttons, with no restart."""
    from dialogs.versions import catalogue_from_po_text

    directory = await enrolled_directory(stack)
    async with stack.app.runtime.db.begin() as session:
        await session.execute(update(Association).where(Association.slug == "test-paris").values(notice_locale="en"))
    stack.app.runtime.directory.expire()
    changed = po_text("en").replace('msgstr "✅ Accept"', 'msgstr "✅ Take it"')
    assert changed != po_text("en")
    async with stack.app.runtime.db.begin() as session:
        digest = catalogue_from_po_text("en", changed).digest
        await approvals.approve(session, SCRIPT_ID, "en", digest, changed, "test moderator")
    assert await stack.app.reload_if_approved()
    await consent_and_send(stack.user())
    staff = directory.staff["test-paris"]
    await stack.fake.wait_for(lambda: any(m.get("reply_markup") for m in staff.bot_messages()), timeout=10)
    notice = next(m for m in staff.bot_messages() if m.get("reply_markup"))
    labels = [label for label, _data in staff.buttons(notice)]
    assert "✅ Take it" in labels, labels


@pytest.mark.parametrize(
    "data",
    [
        "t:a:١٢٣",  # Arabic-Indic digits
        "t:a:-1",
        "t:a:" + "9" * 58,  # 64 bytes
        "t:z:1",
        "x",  # a person's quick exit, pressed in a group
        "mod:a:script:0123abcd",
        "m:check",
        "garbage",
    ],
)
async def test_forged_button_data_in_an_association_chat_gets_a_kind_answer(stack: Stack, data: str) -> None:
    """A press nothing reads, in a group, used to get no answer at all: a spinner, then nothing."""
    directory = await enrolled_directory(stack)
    await consent_and_send(stack.user())
    staff = directory.staff["test-paris"]
    await stack.fake.wait_for(lambda: any(m.get("reply_markup") for m in staff.bot_messages()), timeout=10)
    notice = next(m for m in staff.bot_messages() if m.get("reply_markup"))
    await staff.press_data(data, notice["message_id"])
    assert stack.fake.unanswered_callback_queries() == []
    assert last_answer(stack) == texts.STALE_BUTTON
    async with stack.app.runtime.db() as session:
        ticket = await session.scalar(select(Ticket))
    assert ticket is not None and ticket.status in ("sent", "delivered") and ticket.tried == ["test-paris"], (
        "nothing changed"
    )
    assert staff.buttons(staff.chat_state.messages[notice["message_id"]]) == staff.buttons(notice)
    assert stack.fake.refused == []
