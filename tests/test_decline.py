"""A declined request, then a new one: it goes to the next association, never back.

The state remembers, until it expires, which associations not to offer again; the
database never links the new ticket to the old one.
"""

from __future__ import annotations

from sqlalchemy import select

from storage.directory.csvfile import import_csv
from storage.directory.enrollment import create_enrollment_code
from storage.models import Ticket
from tests.support.fake_telegram import FakeUser
from tests.support.handoff_fixtures import DIRECTORY, Directory, enrolled_directory
from tests.support.stack import Stack
from tests.support.walks import walk_to_consent
from tests.test_handoff import consent_and_send, wait_notice


async def decline(directory: Directory, slug: str) -> None:
    staff = directory.staff[slug]
    await staff.press("Refuser", directory_notice_id(directory, slug))


def directory_notice_id(directory: Directory, slug: str) -> int:
    messages = [m for m in directory.staff[slug].bot_messages() if "demande anonyme" in m["text"].lower()]
    return int(messages[-1]["message_id"])


async def sent_then_declined(stack: Stack, directory: Directory, user: FakeUser, place: str, slug: str) -> str:
    """A request sent from `place`, received by `slug`, which declines it. Returns its code."""
    code = await consent_and_send(user, place)
    await wait_notice(stack, directory, slug)
    await decline(directory, slug)
    return code


async def start_again_from_the_declined_status(user: FakeUser, place: str) -> None:
    """The person checks the status, reads the decline, starts again from that screen, and
    walks to the consent screen."""
    await user.press("Voir les réponses")
    status = user.last()
    assert "ne peut pas prendre votre demande" in status["text"]
    assert "Recommencer" in [text for text, _ in user.buttons(status)], "the declined status offers the way on"
    await user.press("Recommencer")
    await walk_to_consent(user, "fr", postcode=place)


async def test_a_declined_request_goes_to_the_next_association(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    user = stack.user()
    first_code = await sent_then_declined(stack, directory, user, "75011", "test-paris")
    await start_again_from_the_declined_status(user, "75011")
    consent = user.last()["text"]
    assert "Association Test Seine-Saint-Denis" in consent and "Association Test Paris" not in consent, consent
    assert "ne la reçoit pas une deuxième fois" in consent, "the consent screen says why this one"
    await user.press("Oui, envoyer")
    second = user.last()["text"]
    assert "C'est envoyé" in second and "Association Test Seine-Saint-Denis" in second, second
    second_code = second.split("Votre code :")[1].split()[0]
    assert second_code != first_code
    assert len(await wait_notice(stack, directory, "test-nord")) == 1
    assert len(directory.notices("test-paris")) == 1, "the association that declined is not asked again"

    # a second decline: the third request skips both, so the state kept the first one too
    await decline(directory, "test-nord")
    await start_again_from_the_declined_status(user, "75011")
    await user.press("Oui, envoyer")
    assert "Association Test Lyon" in user.last()["text"]
    assert len(await wait_notice(stack, directory, "test-lyon")) == 1
    assert len(directory.notices("test-paris")) == len(directory.notices("test-nord")) == 1

    async with stack.app.runtime.db() as session:
        tickets = list(await session.scalars(select(Ticket).order_by(Ticket.id)))
    assert [t.tried for t in tickets] == [["test-paris"], ["test-nord"], ["test-lyon"]], "no ticket names another"
    assert [t.status for t in tickets] == ["declined", "declined", "delivered"]
    assert stack.fake.refused == []


async def test_an_association_that_passed_on_is_not_offered_again(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    user = stack.user()
    await consent_and_send(user, "93200")
    await wait_notice(stack, directory, "test-nord")
    await directory.staff["test-nord"].press("Transmettre", directory_notice_id(directory, "test-nord"))
    await wait_notice(stack, directory, "test-paris")
    await decline(directory, "test-paris")
    await start_again_from_the_declined_status(user, "93200")
    assert "Association Test Lyon" in user.last()["text"], "neither the one that passed on nor the one that declined"


async def test_no_other_association_is_said_honestly(stack: Stack) -> None:
    async with stack.app.runtime.db.begin() as session:
        await import_csv(session, DIRECTORY.encode())
        code = await create_enrollment_code(session, "test-paris")
    staff = stack.user(50_000, chat_id=-1001, chat_type="group", chat_title="test-paris")
    await staff.send(f"/enroll {code}")
    directory = Directory({"test-paris": staff})
    user = stack.user()
    await sent_then_declined(stack, directory, user, "75011", "test-paris")
    await start_again_from_the_declined_status(user, "75011")
    consent = user.last()["text"]
    assert "Aucune association ne peut recevoir de demande" in consent and "Association Test Paris" not in consent
    await user.press("Oui, envoyer")
    answer = user.last()["text"]
    assert "Aucune association ne peut recevoir de demande" in answer and "C'est envoyé" not in answer
    async with stack.app.runtime.db() as session:
        assert len(list(await session.scalars(select(Ticket)))) == 1, "nothing was sent"
    assert len(directory.notices("test-paris")) == 1
    assert stack.fake.refused == []


async def test_a_deleted_declined_request_is_still_not_sent_back(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    user = stack.user()
    await sent_then_declined(stack, directory, user, "75011", "test-paris")
    await user.press("Voir les réponses")
    await user.press("Effacer ma demande")
    assert "Votre demande est effacée" in user.last()["text"]
    await walk_to_consent(user, "fr", postcode="75011")
    assert "Association Test Seine-Saint-Denis" in user.last()["text"], "the state remembers, the database does not"
    async with stack.app.runtime.db() as session:
        assert list(await session.scalars(select(Ticket))) == []
