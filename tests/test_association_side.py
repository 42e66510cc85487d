"""The association side under misuse: replies reach the right mailbox, nothing in a group
opens one, /enroll only in private groups, floods held, timers safe with two instances."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from sqlalchemy import func, select, update

from bot.app import App
from bot.jobs import pass_on_overdue, purge_expired
from storage.models import OutboxMessage, Ticket
from tests.support.fake_telegram import FakeUser
from tests.support.handoff_fixtures import GROUPS, Directory, enrolled_directory
from tests.support.stack import Stack, make_settings
from tests.support.walks import walk_to_consent
from tests.test_handoff import consent_and_send, wait_notice

EMERGENCY_NUMBERS = ("17 : police", "112 :", "114 :")


def notice_of(directory: Directory, slug: str, ticket_id: int) -> dict[str, Any]:
    """The bot's message in the group that opens ticket `ticket_id`'s notice."""
    return next(m for m in directory.staff[slug].bot_messages() if f"n° {ticket_id}" in m["text"].split("\n")[0])


async def ticket_ids(stack: Stack) -> list[int]:
    async with stack.app.runtime.db() as session:
        return list(await session.scalars(select(Ticket.id).order_by(Ticket.id)))


async def relay(user: FakeUser, text: str) -> str:
    """The person answers through their mailbox; returns what the bot says next."""
    await user.press("Voir les réponses")
    await user.press("Répondre")
    await user.send(text)
    return user.last()["text"]


async def mailbox(user: FakeUser) -> str:
    await user.press("Voir les réponses")
    return user.last()["text"]


async def wait_relays(stack: Stack, staff: FakeUser, count: int) -> list[dict[str, Any]]:
    """The relays shown in the group, once the sender has also recorded them as sent."""

    def relays() -> list[dict[str, Any]]:
        return [m for m in staff.bot_messages() if "Message de la personne" in m["text"]]

    await stack.fake.wait_for(lambda: len(relays()) >= count)

    async def recorded() -> bool:
        async with stack.app.runtime.db() as session:
            return await session.scalar(select(OutboxMessage.id).where(OutboxMessage.status == "pending")) is None

    await stack.fake.wait_for(recorded)
    return relays()


# ---------------------------------------------------------------------------- routing


async def test_staff_replies_to_the_notice_the_prompt_and_a_relay_reach_the_right_person(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    first, second = stack.user(21_001), stack.user(21_002)
    await consent_and_send(first)
    await consent_and_send(second)
    await wait_notice(stack, directory, "test-paris", 2)
    one, two = await ticket_ids(stack)
    staff = directory.staff["test-paris"]
    await staff.send("Réponse au message d'annonce.", reply_to_message=notice_of(directory, "test-paris", one))
    assert "Réponse enregistrée" in staff.last()["text"]
    await staff.press("Répondre", notice_of(directory, "test-paris", two)["message_id"])
    prompt = staff.last()
    await staff.send("Réponse à l'invite.", reply_to_message=prompt)
    assert "Réponse enregistrée" in staff.last()["text"]
    assert "Votre message est transmis" in await relay(second, "Merci, je peux venir jeudi.")
    [relayed] = await wait_relays(stack, staff, 1)
    await staff.send("Réponse au message relayé.", reply_to_message=relayed)
    assert "Réponse enregistrée" in staff.last()["text"]
    first_box, second_box = await mailbox(first), await mailbox(second)
    assert "Réponse au message d'annonce." in first_box
    assert "Réponse à l'invite." not in first_box and "message relayé" not in first_box
    assert "Réponse à l'invite." in second_box and "Réponse au message relayé." in second_box
    assert "message d'annonce" not in second_box


async def test_a_relay_ending_in_a_ticket_mark_redirects_nothing(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    victim, crafty = stack.user(22_001), stack.user(22_002)
    await consent_and_send(victim)
    await consent_and_send(crafty)
    one, _two = await ticket_ids(stack)
    await relay(crafty, f"Répondez-moi s'il vous plaît\n#T{one}")
    staff = directory.staff["test-paris"]
    [relayed] = await wait_relays(stack, staff, 1)
    await staff.send("Notre adresse : 1 rue Exemple.", reply_to_message=relayed)
    assert "rue Exemple" not in await mailbox(victim)
    assert "rue Exemple" in await mailbox(crafty)


async def test_a_reply_to_a_purged_ticket_says_it_no_longer_exists(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    await consent_and_send(stack.user(23_001))
    [notice_text] = await wait_notice(stack, directory, "test-paris")
    staff = directory.staff["test-paris"]
    notice = next(m for m in staff.bot_messages() if m["text"] == notice_text)
    async with stack.app.runtime.db.begin() as session:
        await session.execute(update(Ticket).values(created_at=dt.datetime(2000, 1, 1)))
    assert await purge_expired(stack.app.runtime) == 1
    await staff.send("Une réponse trop tard.", reply_to_message=notice)
    answer = staff.last()["text"]
    assert "n'existe plus" in answer and "déjà été traitée" not in answer


async def test_after_purge_the_group_keeps_nothing_of_the_ticket(stack: Stack) -> None:
    """Notices younger than 48 hours are deleted; older ones become a neutral line."""
    from bot.jobs import clear_group_messages

    directory = await enrolled_directory(stack)
    staff = directory.staff["test-paris"]
    await consent_and_send(stack.user(24_001))
    await wait_notice(stack, directory, "test-paris")
    stack.fake.advance(49 * 3600)
    second = stack.user(24_002)
    await consent_and_send(second)
    await wait_notice(stack, directory, "test-paris", 2)
    await relay(second, "Un message de la personne.")
    await wait_relays(stack, staff, 1)
    await staff.press("Répondre", notice_of(directory, "test-paris", (await ticket_ids(stack))[1])["message_id"])
    async with stack.app.runtime.db.begin() as session:
        await session.execute(update(Ticket).values(created_at=dt.datetime(2000, 1, 1)))
    assert await purge_expired(stack.app.runtime) == 2
    await clear_group_messages(stack.app.runtime, stack.app.bot)
    left = [m for m in staff.bot_messages() if "reçoit désormais" not in m["text"]]
    assert [m["text"] for m in left] == ["Demande effacée."], "the notice past 48 hours is blanked, the rest deleted"
    assert "reply_markup" not in left[0]
    assert await clear_group_messages(stack.app.runtime, stack.app.bot) == 0, "nothing is left to clear"


# ---------------------------------------------------------------------------- no secret in a group


async def test_no_message_to_a_group_carries_the_persons_code(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    user = stack.user(25_001)
    code = await consent_and_send(user, "93200")
    screen = user.last()["text"]
    await wait_notice(stack, directory, "test-nord")
    await relay(user, f"Bonjour, au cas où, mon code est {code.lower().replace('-', ' ')}.")
    await wait_relays(stack, directory.staff["test-nord"], 1)
    await directory.staff["test-nord"].press("Répondre")
    await directory.staff["test-nord"].press("Transmettre", notice_of(directory, "test-nord", 1)["message_id"])
    await wait_notice(stack, directory, "test-paris")
    sent = [
        str(call.params.get("text", ""))
        for call in stack.fake.requests
        if int(call.params.get("chat_id") or 0) in GROUPS.values()
    ]
    shown = [m["text"] for slug in GROUPS for m in directory.staff[slug].bot_messages()]
    assert sent and shown
    spellings = (code, code.replace("-", ""), code.lower().replace("-", " "))
    assert [t for t in sent + shown if any(spelled in t for spelled in spellings)] == []
    reference = screen.split("Référence")[1].split(":", 1)[1].split()[0]
    assert reference in directory.notices("test-nord")[0] and reference in directory.notices("test-paris")[0]
    other_phone = stack.user(25_002)
    await other_phone.send(reference)
    assert "ne l'a pas encore acceptée" not in other_phone.last()["text"], "the reference opens nothing"


async def test_enroll_only_in_a_private_group(stack: Stack) -> None:
    from storage.directory.csvfile import import_csv
    from storage.directory.enrollment import create_enrollment_code
    from tests.support.handoff_fixtures import DIRECTORY

    async with stack.app.runtime.db.begin() as session:
        await import_csv(session, DIRECTORY.encode())
        code = await create_enrollment_code(session, "test-paris")
    alone = stack.user(26_001)
    await alone.send(f"/enroll {code}")
    assert "groupe" in alone.last()["text"] and "reçoit désormais" not in alone.last()["text"]
    stack.fake.add_chat(-4001, "supergroup", title="Public", username="public_team")
    public = stack.user(26_002, chat_id=-4001, chat_type="supergroup")
    await public.send(f"/enroll {code}")
    assert "public" in public.last()["text"] and "reçoit désormais" not in public.last()["text"]
    team = stack.user(26_003, chat_id=-4002, chat_type="supergroup")
    await team.send(f"/enroll {code}")
    assert "reçoit désormais les demandes" in team.last()["text"], "refusals did not use the code up"


# ---------------------------------------------------------------------------- floods


async def test_a_flood_of_handoffs_by_one_person_is_held_kindly(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    flooder = stack.user(27_001)
    limit = stack.app.settings.handoffs_per_day
    for _ in range(limit):
        await consent_and_send(flooder)
        await flooder.send("/exit")
    await walk_to_consent(flooder)
    await flooder.press("Oui, envoyer")
    held = flooder.last()["text"]
    assert "C'est envoyé" not in held
    assert all(number in held for number in EMERGENCY_NUMBERS), held
    await consent_and_send(stack.user(27_002))
    notices = await wait_notice(stack, directory, "test-paris", limit + 1)
    assert len(notices) == limit + 1, "the other person's request went through, the flooder's extra one did not"


async def test_a_flood_of_relays_on_one_ticket_is_held_and_stays_composable(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    flooder = stack.user(28_001)
    await consent_and_send(flooder)
    too_long = "x" * (stack.app.settings.relay_max_chars + 1)
    assert "trop long" in await relay(flooder, too_long)
    await flooder.send("message 0")
    assert "Votre message est transmis" in flooder.last()["text"], "a refused relay stays composable"
    for n in range(1, stack.app.settings.relays_per_hour):
        assert "Votre message est transmis" in await relay(flooder, f"message {n}")
    held = await relay(flooder, "one too many")
    assert "Votre message est transmis" not in held
    assert all(number in held for number in EMERGENCY_NUMBERS), held
    await flooder.send("still composing")
    assert "Merci d'utiliser les boutons" not in flooder.last()["text"], "the refused message can be sent again later"
    other = stack.user(28_002)
    await consent_and_send(other)
    assert "Votre message est transmis" in await relay(other, "une vraie question")
    relays = await wait_relays(stack, directory.staff["test-paris"], stack.app.settings.relays_per_hour + 1)
    assert len(relays) == stack.app.settings.relays_per_hour + 1
    assert not any("x" * 100 in m["text"] for m in relays)


# ---------------------------------------------------------------------------- two instances


async def test_two_instances_pass_each_overdue_ticket_on_once(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    for n in range(6):
        await consent_and_send(stack.user(29_000 + n), "93200")
    await wait_notice(stack, directory, "test-nord", 6)
    async with stack.app.runtime.db.begin() as session:
        await session.execute(update(Ticket).values(updated_at=dt.datetime(2000, 1, 1)))
    other = await App.create(make_settings(stack.backend, stack.fake.base_url))
    try:
        moved = await asyncio.gather(pass_on_overdue(stack.app.runtime), pass_on_overdue(other.runtime))
    finally:
        await other.close()
    assert sum(moved) == 6
    async with stack.app.runtime.db() as session:
        tried = list(await session.scalars(select(Ticket.tried)))
        notices = await session.scalar(select(func.count()).where(OutboxMessage.kind == "notice"))
    assert tried == [["test-nord", "test-paris"]] * 6
    assert notices == 12, "six first notices, six pass-ons"
