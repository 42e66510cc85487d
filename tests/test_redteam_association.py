"""Red team on the association side (issue 12): each test is an attack that once worked.

A code pasted in a disguise that a reader still reads as the code; a re-enrollment that
swallowed what waited for the old chat; a migration into a chat already enrolled, which
looped in silence. Real stack, fake Bot API, both backends.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import unicodedata

from sqlalchemy import select, update

from bot import handoff
from storage.directory.enrollment import create_enrollment_code
from storage.models import Association, EnrolledChat, OutboxMessage, Ticket
from storage.tickets import Refusal, claim_overdue, decide
from tests.support.fake_telegram import FakeUser
from tests.support.handoff_fixtures import GROUPS, enrolled_directory
from tests.support.stack import Stack
from tests.test_association_side import mailbox, relay, wait_relays
from tests.test_delivery import (  # noqa: F401  (`stack`: the fixture whose alerts go to a staff group)
    NORD,
    PARIS,
    SUPERGROUP,
    no_silent_loss,
    sends_to,
    stack,
    tickets,
    wait_alert,
)
from tests.test_faults import outbox
from tests.test_handoff import consent_and_send, wait_notice

INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
CYRILLIC = {
    "A": "А",
    "B": "В",
    "C": "С",
    "E": "Е",
    "H": "Н",
    "K": "К",
    "M": "М",
    "P": "Р",
    "T": "Т",
    "X": "Х",
    "Y": "У",
}
"""Latin capitals and the Cyrillic letters that look the same (a Russian keyboard types them)."""
LATIN = {ord(cyrillic): latin for latin, cyrillic in CYRILLIC.items()} | {
    ord(cyrillic.lower()): latin for latin, cyrillic in CYRILLIC.items()
}


def as_read(text: str) -> str:
    """What a staff member reads in `text`, as a code: look-alikes as their Latin letter,
    invisible characters and separators gone."""
    text = unicodedata.normalize("NFKC", text).translate(INVISIBLE).translate(LATIN).upper()
    return "".join(ch for ch in text if ch.isalnum())


def group_texts(stack: Stack) -> list[str]:
    return [
        str(c.params.get("text", ""))
        for c in stack.fake.requests
        if int(c.params.get("chat_id") or 0) in GROUPS.values()
    ]


async def test_a_code_pasted_in_disguise_never_reaches_a_group(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    user = stack.user(31_001)
    code = await consent_and_send(user)
    await wait_notice(stack, directory, "test-paris")
    disguises = [
        "\u200b".join(code),  # zero-width spaces between the symbols
        "".join(CYRILLIC.get(ch, ch) for ch in code),  # typed on a Cyrillic keyboard
        "".join(CYRILLIC.get(ch, ch) for ch in code).lower(),
        "".join(chr(ord(ch) + 0xFEE0) for ch in code),  # full-width forms
        " ".join(code.replace("-", "")).lower(),
    ]
    for n, disguise in enumerate(disguises):
        assert "Votre message est transmis" in await relay(user, f"mon code {n} : {disguise} merci")
    relays = await wait_relays(stack, directory.staff["test-paris"], len(disguises))
    assert len(relays) == len(disguises)
    compact = code.replace("-", "")
    assert [t for t in group_texts(stack) if compact in as_read(t)] == []
    assert all(f"mon code {n}" in relays[n]["text"] for n in range(len(disguises))), "the rest of the message is kept"


async def test_enrolling_another_associations_chat_keeps_what_waited_for_the_old_one(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    await stack.app.sender.stop()
    await consent_and_send(stack.user(32_001))  # a notice for test-paris, waiting
    async with stack.app.runtime.db.begin() as session:
        code = await create_enrollment_code(session, "test-paris")
    nord_staff = directory.staff["test-nord"]
    await nord_staff.send(f"/enroll {code}")  # test-paris moves into test-nord's chat
    assert "reçoit désormais les demandes" in nord_staff.last()["text"]
    async with stack.app.runtime.db() as session:
        waiting = list(await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "notice")))
    assert [(r.status, r.chat_id) for r in waiting] == [("pending", NORD)], "moved to the new chat, not canceled"
    stack.app.sender.start()
    staff = FakeUser(stack.fake, 50_003, chat_id=NORD, chat_type="group")
    await stack.fake.wait_for(lambda: any("demande anonyme" in t.lower() for t in staff.texts()), timeout=10)
    assert not sends_to(stack, PARIS), "nothing reaches the old chat"
    await no_silent_loss(stack)


async def test_a_migration_into_a_chat_another_association_holds_is_never_a_silent_loop(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    await stack.app.sender.stop()
    await consent_and_send(stack.user(33_001))  # a notice for test-paris, waiting
    stack.fake.migrate_chat(PARIS, SUPERGROUP)
    async with stack.app.runtime.db.begin() as session:
        code = await create_enrollment_code(session, "test-nord")
    other = stack.user(50_100, chat_id=SUPERGROUP, chat_type="supergroup")
    await other.send(f"/enroll {code}")  # the supergroup is now test-nord's chat
    assert "reçoit désormais les demandes" in other.last()["text"]
    stack.app.sender.start()
    await wait_alert(stack, "injoignable")
    await stack.fake.wait_for(lambda: any("demande anonyme" in t.lower() for t in other.texts()), timeout=10)
    async with stack.app.runtime.db() as session:
        paris = await session.scalar(select(Association).where(Association.slug == "test-paris"))
        assert paris is not None and paris.unreachable_since is not None, "its chat is another association's now"
        chats = dict((await session.execute(select(EnrolledChat.association_id, EnrolledChat.chat_id))).all())
        assert chats.get(paris.id) != SUPERGROUP
    assert (await tickets(stack))[0].status == "rerouted"

    async def waiting() -> list[OutboxMessage]:
        return [r for r in await outbox(stack) if r.status in ("pending", "held")]

    for _ in range(50):  # the sender marks a message sent just after Telegram has shown it
        if not await waiting():
            break
        await asyncio.sleep(0.1)
    assert not await waiting(), "nothing loops"
    await no_silent_loss(stack)
    del directory


async def test_a_relay_in_flight_when_its_ticket_is_purged_is_still_cleared_from_the_group(stack: Stack) -> None:
    from bot.jobs import clear_group_messages, purge_expired

    directory = await enrolled_directory(stack)
    staff = directory.staff["test-paris"]
    person = stack.user(34_001)
    await consent_and_send(person)
    await wait_notice(stack, directory, "test-paris")
    await stack.app.sender.stop()
    assert "Votre message est transmis" in await relay(person, "Mes mots à moi.")
    stack.fake.delay_next("sendMessage", 1.5)  # the relay is the next message sent
    stack.app.sender.start()
    await stack.fake.wait_for(lambda: "sendMessage" in stack.fake.delayed)
    async with stack.app.runtime.db.begin() as session:  # past retention while Telegram is answering
        await session.execute(update(Ticket).values(created_at=dt.datetime(2000, 1, 1)))
    assert await purge_expired(stack.app.runtime) == 1
    await stack.fake.wait_for(lambda: any("Mes mots" in t for t in staff.texts()), timeout=10)
    await asyncio.sleep(0.3)  # the sender has recorded what Telegram answered
    await clear_group_messages(stack.app.runtime, stack.app.bot)
    assert not [m for m in staff.bot_messages() if "Mes mots" in m["text"] or "demande anonyme" in m["text"].lower()]


async def test_an_accept_racing_a_timed_out_pass_on_never_lands_on_the_moved_ticket(stack: Stack) -> None:
    """The pass-on holds the ticket; an accept pressed meanwhile must see where it went."""
    directory = await enrolled_directory(stack)
    await consent_and_send(stack.user(35_001))
    await wait_notice(stack, directory, "test-paris")
    runtime = stack.app.runtime
    async with runtime.db.begin() as session:
        await session.execute(update(Ticket).values(updated_at=dt.datetime(2000, 1, 1)))
    hours = runtime.settings.handoff_accept_hours
    async with runtime.db() as timer:
        ticket = await claim_overdue(timer, 1, hours)
        assert ticket is not None
        assert await handoff.pass_on(timer, ticket, runtime.engine, runtime.catalogs, timed_out=True)

        async def accept() -> object:
            async with runtime.db.begin() as session:
                return await decide(session, 1, PARIS, "accept")

        pressed = asyncio.create_task(accept())
        await asyncio.sleep(0.5)
        await timer.commit()
    outcome = await pressed
    assert outcome == Refusal("not_yours"), "the ticket went to the next association while the button was pressed"
    [moved] = await tickets(stack)
    assert moved.status == "passed_on"


async def test_a_staff_reply_to_the_bots_confirmation_reaches_the_same_mailbox(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    person = stack.user(36_001)
    await consent_and_send(person)
    [notice_text] = await wait_notice(stack, directory, "test-paris")
    staff = directory.staff["test-paris"]
    notice = next(m for m in staff.bot_messages() if m["text"] == notice_text)
    await staff.send("Bonjour, nous pouvons vous recevoir.", reply_to_message=notice)
    confirmation = staff.last()
    assert "Réponse enregistrée" in confirmation["text"]
    await staff.send("Et aussi jeudi à 14 h.", reply_to_message=confirmation)  # the natural thread
    assert "Réponse enregistrée" in staff.last()["text"], staff.last()["text"]
    box = await mailbox(person)
    assert "nous pouvons vous recevoir" in box and "jeudi à 14 h" in box


async def test_messages_left_in_a_group_that_became_a_supergroup_are_not_retried_forever(stack: Stack) -> None:
    """After a migration the old group takes no call: its messages are out of the bot's reach
    (the supergroup keeps the history), so clearing them is done, not retried every run."""
    from bot.jobs import clear_group_messages, purge_expired

    directory = await enrolled_directory(stack)
    await consent_and_send(stack.user(39_001))
    await wait_notice(stack, directory, "test-paris")
    stack.fake.migrate_chat(PARIS, SUPERGROUP)
    async with stack.app.runtime.db.begin() as session:
        await session.execute(update(Ticket).values(created_at=dt.datetime(2000, 1, 1)))
    assert await purge_expired(stack.app.runtime) == 1
    assert await clear_group_messages(stack.app.runtime, stack.app.bot) == 1
    assert await clear_group_messages(stack.app.runtime, stack.app.bot) == 0, "nothing is left to retry"
    assert "could not clear" not in stack.logs.getvalue()
