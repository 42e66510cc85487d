"""An association's team in its own chat: /pause, /resume, /tickets, /help, for the group's
administrators only (issue 15, item 1), through the fake Bot API."""

from __future__ import annotations

import io

from sqlalchemy import select

from storage.models import Association, Ticket
from tests.support.backends import Backend
from tests.support.fake_telegram import FakeUser
from tests.support.handoff_fixtures import GROUPS, Directory, enrolled_directory
from tests.support.stack import Stack, running_stack
from tests.test_handoff import consent_and_send, wait_notice

PARIS = GROUPS["test-paris"]


def admin(stack: Stack, directory: Directory, slug: str) -> FakeUser:
    """The team member the fixtures enrolled with, made an administrator of the group."""
    member = directory.staff[slug]
    stack.fake.set_admin(GROUPS[slug], member.id)
    return member


async def command(member: FakeUser, text: str) -> str:
    """Send a command in the group; the bot's answer to it."""
    before = len(member.bot_messages())
    await member.send(text)
    await member.fake.wait_for(lambda: len(member.bot_messages()) > before, timeout=10)
    return member.bot_messages()[-1]["text"]


async def intake_open(stack: Stack, slug: str) -> bool:
    async with stack.app.runtime.db() as session:
        return bool(await session.scalar(select(Association.intake_open).where(Association.slug == slug)))


async def test_a_member_who_is_not_an_administrator_is_refused(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    member = directory.staff["test-paris"]
    for text in ("/pause", "/resume", "/tickets", "/help"):
        assert "Seuls les administrateurs" in await command(member, text)
    assert await intake_open(stack, "test-paris")


async def test_a_group_no_association_enrolled_gets_no_answer(stack: Stack) -> None:
    """Whoever added the bot to some group learns nothing of what it is for."""
    await enrolled_directory(stack)
    stranger = stack.user(60_001, chat_id=-7777, chat_type="group", chat_title="elsewhere")
    stack.fake.set_admin(-7777, 60_001, "creator")
    for text in ("/pause", "/resume", "/tickets", "/stats", "/help"):
        update = await stranger.send(text)
        await stack.fake.processed(update["update_id"])
    assert stranger.bot_messages() == []
    assert await intake_open(stack, "test-paris")


async def test_pause_skips_the_association_at_once_and_resume_restores_it(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    paris = admin(stack, directory, "test-paris")
    answer = await command(paris, "/pause équipe complète cette semaine")
    assert "ne reçoit plus de nouvelles demandes" in answer and "/resume" in answer
    assert not await intake_open(stack, "test-paris")
    assert "déjà suspendues" in await command(paris, "/pause")

    await consent_and_send(stack.user(61_001), "75011")
    assert directory.notices("test-paris") == [], "a paused association gets no new request"
    async with stack.app.runtime.db() as session:
        assert (await session.scalar(select(Ticket.association_id))) is not None, "it went to another one"

    assert "reçoit de nouveau" in await command(paris, "/resume")
    assert await intake_open(stack, "test-paris")
    await consent_and_send(stack.user(61_002), "75011")
    assert len(await wait_notice(stack, directory, "test-paris")) == 1


async def test_the_people_who_run_the_bot_are_told_of_a_pause(backend: Backend, captured_logs: io.StringIO) -> None:
    async with running_stack(backend, captured_logs, alert_chat_id=-9000) as stack:
        staff = FakeUser(stack.fake, 90_000, chat_id=-9000, chat_type="group", chat_title="staff")
        directory = await enrolled_directory(stack)
        paris = admin(stack, directory, "test-paris")
        await command(paris, "/pause congés")
        await stack.fake.wait_for(lambda: any("test-paris a suspendu" in t for t in staff.texts()), timeout=10)
        assert any("congés" in t for t in staff.texts())
        await command(paris, "/resume")
        await stack.fake.wait_for(lambda: any("test-paris reçoit de nouveau" in t for t in staff.texts()), timeout=10)


async def test_tickets_lists_what_the_team_holds_without_codes_or_typed_text(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    paris = admin(stack, directory, "test-paris")
    assert "Aucune demande en cours" in await command(paris, "/tickets")
    people = [stack.user(62_000 + n) for n in range(3)]
    for person in people:
        await consent_and_send(person, "75011")
    await wait_notice(stack, directory, "test-paris", 3)
    listing = await command(paris, "/tickets")
    assert "Demandes en cours : 3" in listing
    async with stack.app.runtime.db() as session:
        ids = list(await session.scalars(select(Ticket.id).order_by(Ticket.id)))
    for ticket_id in ids:
        assert f"n° {ticket_id} (" in listing
    assert "à accepter" in listing and "Langue" in listing
    for person in people:
        code = person.texts()[-1]
        assert "Code" not in listing and code not in listing
    keyboard = paris.bot_messages()[-1]["reply_markup"]["inline_keyboard"]
    assert [len(row) for row in keyboard] == [4, 4, 4]

    first = ids[0]
    await paris.press_data(f"t:a:{first}", paris.bot_messages()[-1]["message_id"])
    async with stack.app.runtime.db() as session:
        assert await session.scalar(select(Ticket.status).where(Ticket.id == first)) == "accepted"
    await stack.fake.wait_for(
        lambda: [len(r) for r in paris.bot_messages()[-1]["reply_markup"]["inline_keyboard"]] == [1, 4, 4]
    )
    assert paris.bot_messages()[-1]["text"].startswith("Demandes en cours"), "the list is not rewritten"
    again = await command(paris, "/tickets")
    assert "acceptée" in again


async def test_stats_gives_the_associations_own_numbers(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    paris = admin(stack, directory, "test-paris")
    assert "demandes reçues : 0" in await command(paris, "/stats")
    for n in range(2):
        await consent_and_send(stack.user(64_000 + n), "75011")
    await wait_notice(stack, directory, "test-paris", 2)
    async with stack.app.runtime.db() as session:
        first = await session.scalar(select(Ticket.id).order_by(Ticket.id))
    await paris.press_data(f"t:a:{first}", paris.bot_messages()[-1]["message_id"])
    answer = await command(paris, "/stats")
    assert "demandes reçues : 2" in answer and "acceptées : 1" in answer and "refusées : 0" in answer
    assert "délai médian avant acceptation : 0 h" in answer
    nord = admin(stack, directory, "test-nord")
    assert "demandes reçues : 0" in await command(nord, "/stats"), "another association's numbers are its own"


async def test_tickets_of_another_association_are_never_listed(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    nord = admin(stack, directory, "test-nord")
    await consent_and_send(stack.user(63_001), "75011")
    await wait_notice(stack, directory, "test-paris")
    assert "Aucune demande en cours" in await command(nord, "/tickets")


async def test_help_lists_the_commands_in_the_associations_language(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    async with stack.app.runtime.db.begin() as session:
        association = await session.scalar(select(Association).where(Association.slug == "test-paris"))
        assert association is not None
        association.notice_locale = "en"
    paris = admin(stack, directory, "test-paris")
    answer = await command(paris, "/help")
    for name in ("/tickets", "/pause", "/resume", "/stats", "/help"):
        assert name in answer
    assert "administrators" in answer, "in English, the association's language"


async def test_team_commands_in_a_private_chat_tell_a_person_nothing_and_keep_their_help(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    staff = directory.staff["test-paris"]
    stack.fake.set_admin(PARIS, staff.id)
    person = stack.user(61_001, language_code="fr")
    for text in ("/stats", "/pause", "/tickets", "/resume"):
        await person.send(text)  # handled when it returns
        for answer in [m.get("text", "") for m in person.bot_messages()]:
            assert "Je ne connais pas cette commande" in answer, answer
    assert await intake_open(stack, "test-paris")
    assert await command(person, "/help") == await command(stack.user(61_002, language_code="fr"), "/help")


async def test_a_button_forged_for_another_associations_ticket_is_refused(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    lyon = admin(stack, directory, "test-lyon")
    await consent_and_send(stack.user(63_001), "75011")
    await wait_notice(stack, directory, "test-paris")
    async with stack.app.runtime.db() as session:
        ticket_id = await session.scalar(select(Ticket.id))
    await command(lyon, "/tickets")
    for action in ("a", "d", "p", "r"):
        await lyon.press_data(f"t:{action}:{ticket_id}", lyon.bot_messages()[-1]["message_id"])
    async with stack.app.runtime.db() as session:
        ticket = await session.get(Ticket, ticket_id)
        assert ticket is not None and ticket.status not in ("accepted", "declined", "passed_on")
        assert ticket.association_id == await session.scalar(
            select(Association.id).where(Association.slug == "test-paris")
        )
    assert not [m for m in lyon.bot_messages() if "force_reply" in str(m.get("reply_markup", ""))]
