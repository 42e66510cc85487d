"""The mailbox always opens: replies over as many pages as they need, each within Telegram's
limits counted in UTF-16 units; a staff reply too long is refused, never cut; the screens
that show the code or the replies cannot be forwarded or saved (protect_content)."""

from __future__ import annotations

from sqlalchemy import func, select

from storage.models import OutboxMessage, TicketMessage
from tests.support.fake_telegram import FakeUser
from tests.support.fake_telegram.spec import JSON
from tests.support.handoff_fixtures import Directory, enrolled_directory
from tests.support.stack import Stack
from tests.test_handoff import consent_and_send, wait_notice

OLDER = "Plus anciennes ▶"
NEWER = "◀ Plus récentes"


async def accepted_ticket(stack: Stack) -> tuple[FakeUser, FakeUser, JSON, str]:
    """A person with a ticket its association accepted; the staff member and their reply prompt."""
    directory: Directory = await enrolled_directory(stack)
    user = stack.user()
    code = await consent_and_send(user)
    await wait_notice(stack, directory, "test-paris")
    staff = directory.staff["test-paris"]
    await staff.press("Accepter")
    await staff.press("Répondre")
    return user, staff, staff.last(), code


def reply(number: int, length: int, filler: str = "x") -> str:
    """A distinct reply whose text is `length` code points."""
    head = f"<réponse {number:02d}> "
    return head + filler * (length - len(head))


async def read_every_page(user: FakeUser) -> list[str]:
    """Open the mailbox and press "older" until the last page; the text of each page."""
    await user.press("Voir les réponses")
    pages = [user.last()["text"]]
    while any(OLDER in label for label, _ in user.buttons()):
        await user.press(OLDER)
        pages.append(user.last()["text"])
    return pages


async def test_three_long_replies_are_all_readable(stack: Stack) -> None:
    user, staff, prompt, _code = await accepted_ticket(stack)
    replies = [reply(n, 3000) for n in range(3)]
    for body in replies:
        await staff.send(body, reply_to_message=prompt)
        assert "Réponse enregistrée" in staff.last()["text"]
    pages = await read_every_page(user)
    assert len(pages) == 3
    assert [body for body in replies if not any(body in page for page in pages)] == []
    assert replies[2] in pages[0], "the newest reply comes first"
    assert "Page 1 sur 3" in pages[0] and "Page 3 sur 3" in pages[2]
    await user.press(NEWER)
    assert replies[1] in user.last()["text"]
    assert not any("Désolé" in text for text in user.texts())
    assert stack.fake.refused == []
    await user.send("/exit")
    await stack.deletions_done()
    assert not any("réponse 0" in text for text in user.texts()), "the quick exit deletes the mailbox too"


async def test_emoji_and_cjk_replies_at_the_limit(stack: Stack) -> None:
    """3,500 UTF-16 units is the limit: 1,750 emoji, or 1,750 CJK characters outside the BMP."""
    user, staff, prompt, _code = await accepted_ticket(stack)
    emoji = "😀" * 1750
    rare_cjk = "𠀀" * 1749 + "字" * 2
    for body in (emoji, rare_cjk):
        await staff.send(body, reply_to_message=prompt)
        assert "Réponse enregistrée" in staff.last()["text"]
    await staff.send(emoji + "x", reply_to_message=prompt)
    assert "3500" in staff.last()["text"] and "Réponse enregistrée" not in staff.last()["text"]
    pages = await read_every_page(user)
    assert [body for body in (emoji, rare_cjk) if not any(body in page for page in pages)] == []
    assert stack.fake.refused == []


async def test_a_staff_reply_too_long_is_refused_with_the_limit(stack: Stack) -> None:
    user, staff, prompt, _code = await accepted_ticket(stack)
    await staff.send("x" * 5000, reply_to_message=prompt)
    answer = staff.last()["text"]
    assert "3500" in answer and "5000" in answer and "Rien n'a été enregistré" in answer, answer
    async with stack.app.runtime.db() as session:
        assert await session.scalar(select(func.count()).select_from(TicketMessage)) == 0
    await user.press("Voir les réponses")
    assert "Pas encore de réponse" in user.last()["text"]
    assert stack.fake.refused == []


async def test_a_relay_of_3000_emoji_is_refused_kindly(stack: Stack) -> None:
    user, _staff, _prompt, _code = await accepted_ticket(stack)
    await user.press("Voir les réponses")
    await user.press("Répondre")
    await user.send("😀" * 3000)
    assert "trop long" in user.last()["text"]
    async with stack.app.runtime.db() as session:
        relays = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "relay")
        )
    assert relays == 0
    await user.send("Merci, je viendrai mardi.")
    assert "transmis à l'association" in user.last()["text"], "the person can still write a shorter one"
    assert stack.fake.refused == []


async def test_the_code_and_mailbox_screens_are_protected(stack: Stack) -> None:
    await enrolled_directory(stack)
    user = stack.user()
    code = await consent_and_send(user)
    handoff = user.last()
    assert handoff["has_protected_content"] is True
    consent_screens = [m for m in user.bot_messages() if "Oui, envoyer" in str(m.get("reply_markup"))]
    assert consent_screens == [], "the unprotected consent screen does not stay beside the code"
    await user.press("Voir les réponses")
    assert user.last()["has_protected_content"] is True
    other_phone = stack.user(12_002)
    await other_phone.send(code)
    assert code in other_phone.last()["text"] and other_phone.last()["has_protected_content"] is True
    person_chats = {user.chat_id, other_phone.chat_id}
    sent = [
        c
        for c in stack.fake.requests
        if c.method == "sendMessage" and c.params["chat_id"] in person_chats and code in c.params["text"]
    ]
    assert len(sent) == 2 and all(c.params.get("protect_content") is True for c in sent)
    assert stack.fake.refused == []


async def test_thirty_long_replies_still_open_and_page(stack: Stack) -> None:
    user, staff, prompt, _code = await accepted_ticket(stack)
    replies = [reply(n, 3500, "é") for n in range(30)]
    for body in replies:
        await staff.send(body, reply_to_message=prompt)
    pages = await read_every_page(user)
    assert len(pages) == 30
    assert [body for body in replies if not any(body in page for page in pages)] == []
    last = user.last()
    await user.press_data("m:page:999", last["message_id"])
    assert replies[0] in user.last()["text"], "a page past the end shows the last one"
    await user.press_data("m:page:0", last["message_id"])
    assert replies[29] in user.last()["text"]
    assert len([m for m in user.bot_messages() if "réponse" in m["text"]]) == 1, "paging edits one screen"
    assert stack.fake.refused == []
