"""The identity-free handoff, end to end through the fake Bot API and a real SQLite file."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

from sqlalchemy import select, update

from bot.app import App
from bot.jobs import pass_on_overdue, remind_unaccepted
from storage.directory.nearest import haversine_km
from storage.models import OutboxMessage, Ticket, hour
from storage.places import places
from tests.support.fake_telegram import FakeUser
from tests.support.handoff_fixtures import GROUPS, Directory, enrolled_directory, reference_on
from tests.support.stack import Stack, make_settings
from tests.support.walks import CATALOGS, walk_to_consent


async def consent_and_send(
    user: FakeUser, place: str = "75011", before_sending: Callable[[], None] = lambda: None
) -> str:
    """Walk to the consent screen, then send; `before_sending` may schedule Telegram faults."""
    await walk_to_consent(user, "fr", postcode=place)
    before_sending()
    await user.press("Oui, envoyer")
    text = user.last()["text"]
    assert "C'est envoyé" in text, text
    return text.split("Votre code :")[1].split()[0]


async def wait_notice(stack: Stack, directory: Directory, slug: str, count: int = 1) -> list[str]:
    await stack.fake.wait_for(lambda: len(directory.notices(slug)) >= count, timeout=10)
    await asyncio.sleep(0.2)  # and no second copy arrives
    return directory.notices(slug)


async def test_postcode_goes_to_the_nearest_valid_association(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    user = stack.user()
    await walk_to_consent(user, "fr", postcode="75011")
    consent = user.last()["text"]
    assert "Association Test Paris" in consent, "expired and closed ones are skipped, though at the very centre"
    await user.press("Oui, envoyer")
    code = user.last()["text"].split("Votre code :")[1].split()[0]
    assert len(code) == 14 and code.count("-") == 2
    notices = await wait_notice(stack, directory, "test-paris")
    assert len(notices) == 1 and reference_on(user) in notices[0] and code not in notices[0]
    assert "Paris" in notices[0] and "Me soigner" in notices[0]
    assert directory.notices("test-expired") == directory.notices("test-closed") == []
    assert stack.fake.refused == []


async def test_town_with_several_departements_asks_which(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    user = stack.user()
    await user.send("/start")
    for label in ("J'ai compris", "Oui, je suis en sécurité", "18 ans ou plus", "Valider"):
        await user.press(label)
    await user.send("saint denis")
    assert "plusieurs départements" in user.last()["text"]
    await user.press("93 Seine-Saint-Denis")
    await user.press("Je les appelle")
    await user.press("Non")
    assert "Association Test Seine-Saint-Denis" in user.last()["text"]
    assert "01 00 00 00 00" in user.last()["text"]
    await user.press("Oui, envoyer")
    assert len(await wait_notice(stack, directory, "test-nord")) == 1


async def test_departement_and_location(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    by_code = stack.user(11_001)
    await consent_and_send(by_code, "Rhône")
    assert len(await wait_notice(stack, directory, "test-lyon")) == 1
    by_location = stack.user(11_002)
    await by_location.send("/start")
    for label in ("J'ai compris", "Oui, je suis en sécurité", "18 ans ou plus", "Valider"):
        await by_location.press(label)
    await by_location.share_location(43.2965, 5.3698)  # Marseille: no association covers 13
    await by_location.press("Je les appelle")
    await by_location.press("Non")
    consent = by_location.last()["text"]
    assert "Aucune association ne couvre votre département" in consent and "Association Test Lyon" in consent
    assert "km" in consent
    await by_location.press("Oui, envoyer")
    assert len(await wait_notice(stack, directory, "test-lyon", 2)) == 2


async def test_accept_and_reply_reach_the_person(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    user = stack.user()
    await consent_and_send(user)
    staff = directory.staff["test-paris"]
    await wait_notice(stack, directory, "test-paris")
    await staff.press("Accepter")
    await user.press("Voir les réponses")
    assert "a accepté votre demande" in user.last()["text"]
    await staff.press("Répondre")
    prompt = staff.last()
    await staff.send("Bonjour, nous pouvons vous recevoir mardi.", reply_to_message=prompt)
    assert "Réponse enregistrée" in staff.last()["text"]
    await user.press("Voir les réponses")
    assert "nous pouvons vous recevoir mardi" in user.last()["text"]
    ticket_id = directory.notices("test-paris")[0].split("n° ")[1].split()[0]
    await staff.press_data(f"t:d:{ticket_id}", staff.bot_messages()[0]["message_id"])
    assert "déjà été traitée" in str(list(stack.fake.callback_answers.values())[-1]), "a second decision is refused"
    assert stack.fake.refused == []


async def test_a_notice_in_a_private_chat_stays_whole_once_accepted(stack: Stack) -> None:
    """A private chat enrolled before /enroll required a group still works: its notice
    buttons are not script buttons, so the notice comes back whole with each press and is
    rebuilt from it."""
    from storage.directory.csvfile import import_csv
    from storage.directory.enrollment import create_enrollment_code, enroll
    from tests.support.handoff_fixtures import DIRECTORY

    staff = stack.user(50_100, first_name="Solo")
    async with stack.app.runtime.db.begin() as session:
        await import_csv(session, DIRECTORY.encode())
        code = await create_enrollment_code(session, "test-paris")
        assert await enroll(session, code, staff.chat_id) is not None
    await consent_and_send(stack.user())
    notice = await stack.fake.wait_for(
        lambda: next((m for m in staff.bot_messages() if "demande anonyme" in m["text"].lower()), None), timeout=10
    )
    await staff.press("Accepter", notice["message_id"])
    after = staff.chat_state.messages[notice["message_id"]]
    assert notice["text"].splitlines()[0] in after["text"] and "Acceptée" in after["text"]
    assert [b["text"] for row in after["reply_markup"]["inline_keyboard"] for b in row] == ["💬 Répondre"]


async def test_enrollment_codes_are_single_use(stack: Stack) -> None:
    from storage.directory.enrollment import create_enrollment_code

    await enrolled_directory(stack)
    async with stack.app.runtime.db.begin() as session:
        code = await create_enrollment_code(session, "test-lyon")
    first = stack.user(60_001, chat_id=-3001, chat_type="group")
    await first.send(f"/enroll {code}")
    assert "reçoit désormais les demandes" in first.last()["text"]
    second = stack.user(60_002, chat_id=-3002, chat_type="group")
    await second.send(f"/enroll {code}")
    await second.send("/enroll ABCDE-FGHJK")
    assert [m["text"] for m in second.bot_messages()] == ["Code invalide ou expiré."] * 2


async def test_the_code_opens_the_mailbox_from_another_device(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    code = await consent_and_send(stack.user(12_001))
    await wait_notice(stack, directory, "test-paris")  # delivered, not read
    other_phone = stack.user(12_002)
    await other_phone.send(code.lower().replace("-", " "))
    assert "ne l'a pas encore acceptée" in other_phone.last()["text"]


async def test_wrong_codes_say_nothing_and_are_rate_limited(stack: Stack) -> None:
    guesser = stack.user(13_001)
    answers = []
    for attempt in range(7):
        await guesser.send(f"ABCD-EFGH-JK{'MNPQRSTUVW'[attempt]}2")
        answers.append(guesser.last()["text"])
    assert all("n'ouvre aucune demande" in a for a in answers[:5])
    assert "Trop d'essais" in answers[5] and "Trop d'essais" in answers[6]


async def test_pass_on_by_hand(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    user = stack.user()
    await consent_and_send(user, "93200")
    await wait_notice(stack, directory, "test-nord")
    await directory.staff["test-nord"].press("Transmettre")
    passed = await wait_notice(stack, directory, "test-paris")
    assert "transmise par une autre association" in passed[0]
    await user.press("Voir les réponses")
    assert "transmise à une autre association" in user.last()["text"]
    ticket_id = passed[0].split("n° ")[1].split(",")[0]
    first = directory.staff["test-nord"]
    await first.press_data(f"t:a:{ticket_id}", first.bot_messages()[-1]["message_id"])
    assert "pas pour ce groupe" in str(list(stack.fake.callback_answers.values())[-1]), (
        "the first one can no longer act"
    )


async def test_pass_on_by_timeout(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    await consent_and_send(stack.user(), "93200")
    await wait_notice(stack, directory, "test-nord")
    async with stack.app.runtime.db.begin() as session:
        await session.execute(update(Ticket).values(updated_at=dt.datetime(2000, 1, 1)))
    assert await pass_on_overdue(stack.app.runtime) == 1
    stack.app.runtime.wake_sender()
    assert len(await wait_notice(stack, directory, "test-paris")) == 1
    await stack.fake.wait_for(
        lambda: any("pas été acceptée à temps" in t for t in directory.staff["test-nord"].texts())
    )


async def test_a_reminder_comes_once_before_the_pass_on(stack: Stack) -> None:
    """HANDOFF_REMIND_HOURS (6) before the pass-on (24 h): one reminder, in the chat that has
    the notice; the next association gets its own reminder in its turn, and never one late."""
    directory = await enrolled_directory(stack)
    runtime = stack.app.runtime
    await consent_and_send(stack.user(), "93200")
    await wait_notice(stack, directory, "test-nord")
    nord = directory.staff["test-nord"]

    async def age(hours: int) -> None:
        async with runtime.db.begin() as session:
            await session.execute(update(Ticket).values(updated_at=hour() - dt.timedelta(hours=hours)))

    def reminders(team: FakeUser) -> list[str]:
        return [t for t in team.texts() if "pas encore acceptée" in t]

    await age(17)
    assert await remind_unaccepted(runtime) == 0, "7 hours before the pass-on: too early"
    await age(18)
    assert await remind_unaccepted(runtime) == 1
    assert await remind_unaccepted(runtime) == 0, "once"
    runtime.wake_sender()
    await stack.fake.wait_for(lambda: len(reminders(nord)) == 1)
    assert "6 h" in reminders(nord)[0] and "n°" in reminders(nord)[0]
    await age(23)
    assert await remind_unaccepted(runtime) == 0
    await age(24)
    assert await remind_unaccepted(runtime) == 0, "overdue: the pass-on comes, not a late reminder"
    assert await pass_on_overdue(runtime) == 1
    runtime.wake_sender()
    await wait_notice(stack, directory, "test-paris")
    await age(18)
    assert await remind_unaccepted(runtime) == 1, "the next association is reminded in its turn"
    runtime.wake_sender()
    await stack.fake.wait_for(lambda: len(reminders(directory.staff["test-paris"])) == 1)
    assert len(reminders(nord)) == 1


async def test_an_accepted_request_gets_no_reminder(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    await consent_and_send(stack.user(), "93200")
    await wait_notice(stack, directory, "test-nord")
    await directory.staff["test-nord"].press("Accepter")
    async with stack.app.runtime.db.begin() as session:
        await session.execute(update(Ticket).values(updated_at=hour() - dt.timedelta(hours=20)))
    assert await remind_unaccepted(stack.app.runtime) == 0


async def test_forged_accept_from_another_chat_is_refused(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    await consent_and_send(stack.user())
    notice = (await wait_notice(stack, directory, "test-paris"))[0]
    ticket_id = notice.split("n° ")[1].split()[0]
    for intruder in (
        directory.staff["test-lyon"],
        stack.user(14_001),
        stack.user(14_002, chat_id=-2001, chat_type="group"),
    ):
        sent = None if intruder.bot_messages() else (await intruder.send("x"))["message"]
        message = intruder.bot_messages()[-1] if intruder.bot_messages() else sent  # typed text is erased in private
        assert message is not None
        await intruder.press_data(f"t:a:{ticket_id}", message["message_id"])
    async with stack.app.runtime.db() as session:
        assert (await session.scalar(select(Ticket.status))) == "delivered", "unchanged since its notice arrived"


async def test_telegram_429_and_5xx_while_sending(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    group = GROUPS["test-paris"]
    await consent_and_send(
        stack.user(),
        before_sending=lambda: stack.fake.fail_next("sendMessage", error_code=429, retry_after=1, chat_id=group),
    )
    assert len(await wait_notice(stack, directory, "test-paris")) == 1
    await consent_and_send(
        stack.user(15_002),
        before_sending=lambda: stack.fake.fail_next("sendMessage", error_code=500, times=2, chat_id=group),
    )
    notices = await wait_notice(stack, directory, "test-paris", 2)
    assert len(notices) == 2
    assert [f.error_code for f in stack.fake.faults] == [429, 500, 500]


async def test_restart_between_ticket_and_notice(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    await stack.app.sender.stop()  # the process dies right after the ticket is written
    await consent_and_send(stack.user())
    await stack.app.stop()
    async with stack.app.runtime.db() as session:
        pending = list(await session.scalars(select(OutboxMessage).where(OutboxMessage.status == "pending")))
    assert len(pending) == 1 and directory.notices("test-paris") == []
    restarted = await App.create(make_settings(stack.backend, stack.fake.base_url))
    task = asyncio.create_task(restarted.run_polling(handle_as_tasks=False, handle_signals=False))
    try:
        assert len(await wait_notice(stack, directory, "test-paris")) == 1
    finally:
        await restarted.stop()
        await task
        await restarted.close()


async def walk_to_the_place(user: FakeUser, locale: str = "fr") -> None:
    """From /start to the question "where are you?", pressing buttons by their translated labels."""
    _ = CATALOGS.get(locale).gettext
    await user.send("/start")
    for label in ("J'ai compris", "Oui, je suis en sécurité", "18 ans ou plus", "Valider"):
        await user.press(_(label))


def place_buttons(user: FakeUser) -> list[str]:
    """The département choices on the latest screen (their labels start with the code)."""
    return [text for text, _ in user.buttons() if text.split(" ")[0] in {d.code for d in places().departements()}]


async def test_a_town_in_several_departements_lists_mainland_first_each_with_a_hint(stack: Stack) -> None:
    user = stack.user()
    await walk_to_the_place(user)
    await user.send("saint denis")
    assert "plusieurs départements" in user.last()["text"]
    assert place_buttons(user) == [
        "93 Seine-Saint-Denis · Paris et environs",
        "11 Aude · Narbonne et environs",
        "30 Gard · Nîmes et environs",
        "974 La Réunion · océan Indien",
    ]
    english = stack.user(13_002, language_code="en")
    await walk_to_the_place(english, "en")
    await english.send("Saint-Pierre")
    shown = place_buttons(english)
    assert shown[-2:] == ["974 La Réunion · Indian Ocean", "972 Martinique · Caribbean"], shown
    assert not any(text.startswith("97") for text in shown[:-2]), "mainland first"


async def test_the_card_says_in_your_departement_or_from_where_the_distance_is_measured(stack: Stack) -> None:
    """The distance is computed from the département's reference point, never from the person."""
    await enrolled_directory(stack)
    inside = stack.user(12_001)
    await walk_to_consent(inside, "fr", postcode="75011")
    consent = inside.last()["text"]
    assert "Association Test Paris" in consent and "Elle travaille dans votre département." in consent
    assert " km" not in consent, "no distance for an association of the person's own département"
    outside = stack.user(12_002)
    await walk_to_consent(outside, "fr", postcode="13001")  # Marseille: no association covers 13
    consent = outside.last()["text"]
    assert "Association Test Lyon" in consent and "dans votre département" not in consent
    km = round(haversine_km(places().point("13") or (0, 0), (45.76, 4.83)))
    assert f"À environ {km} km du centre de votre département." in consent, consent
