"""Delivery with no silent loss: each class of Bot API failure, floods, unenrollment.

Every test drives the real stack through the fake Bot API, on both backends. Time is moved
the way the pass-on tests move it: by writing older times into the database.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import SendMessage
from sqlalchemy import select, update

from bot.cli import associations as cli_associations
from bot.cli import outbox as cli_outbox
from bot.jobs import check_accreditations, pass_on_stranded
from bot.outbox import Pacer
from bot.transport.failures import Kind, classify
from dialogs.i18n import Catalogs
from storage.directory.enrollment import create_enrollment_code, unenroll
from storage.models import Association, EnrolledChat, OutboxMessage, Ticket
from tests.support.backends import Backend
from tests.support.fake_telegram import FakeUser
from tests.support.handoff_fixtures import GROUPS, Directory, enrolled_directory, reference_on
from tests.support.stack import Stack, running_stack
from tests.test_faults import fast_forward, outbox, wait_attempts
from tests.test_handoff import consent_and_send, wait_notice

ALERT_CHAT = -9000
PARIS, NORD = GROUPS["test-paris"], GROUPS["test-nord"]
SUPERGROUP = -100_1001


@pytest.fixture
async def stack(backend: Backend, captured_logs: io.StringIO) -> AsyncIterator[Stack]:
    async with running_stack(backend, captured_logs, alert_chat_id=ALERT_CHAT) as running:
        alert_chat(running)  # the staff group exists, and the bot is in it
        yield running


def alert_chat(stack: Stack) -> FakeUser:
    return FakeUser(stack.fake, 90_000, chat_id=ALERT_CHAT, chat_type="group", chat_title="staff")


async def wait_alert(stack: Stack, words: str, count: int = 1) -> list[str]:
    chat = alert_chat(stack)
    await stack.fake.wait_for(lambda: len([t for t in chat.texts() if words in t]) >= count, timeout=10)
    return [t for t in chat.texts() if words in t]


async def status_line(user: FakeUser) -> str:
    await user.press("Voir les réponses")
    return user.last()["text"]


async def tickets(stack: Stack) -> list[Ticket]:
    async with stack.app.runtime.db() as session:
        return list(await session.scalars(select(Ticket).order_by(Ticket.id)))


async def no_silent_loss(stack: Stack) -> None:
    """Every row given up was blanked only with an alert queued or its ticket passed on."""
    rows = await outbox(stack)
    alerts = [r for r in rows if r.kind == "alert"]
    moved = {t.id for t in await tickets(stack) if t.status in ("rerouted", "undelivered", "passed_on")}
    for row in rows:
        if row.status in ("failed", "canceled"):
            assert row.error_class, f"row {row.id} ended {row.status} with no reason"
            assert alerts or row.ticket_id in moved, f"row {row.id} given up with no alert and no pass-on"
    assert all(r.text for r in rows if r.status in ("pending", "held")), "nothing waiting was blanked"


async def queued_while_stopped(stack: Stack, user_id: int) -> tuple[Directory, FakeUser, str]:
    """The directory enrolled, then one request whose notice waits: the sender is stopped."""
    directory = await enrolled_directory(stack)
    await stack.app.sender.stop()
    person = stack.user(user_id)
    return directory, person, await consent_and_send(person)


def sends_to(stack: Stack, chat_id: int) -> list[str]:
    """Every notice the bot tried to send to `chat_id`, refused or not."""
    calls = [c for c in stack.fake.requests if c.method == "sendMessage" and c.params.get("chat_id") == chat_id]
    return [str(c.params["text"]) for c in calls if "demande anonyme" in str(c.params.get("text")).lower()]


# --------------------------------------------------------------------------- the classifier


def test_every_bot_api_failure_has_a_class() -> None:
    method = SendMessage(chat_id=1, text="x")
    cases = [
        (TelegramMigrateToChat(method, "Bad Request: group chat was upgraded to a supergroup chat", -9), Kind.MIGRATED),
        (TelegramForbiddenError(method, "Forbidden: bot was kicked from the group chat"), Kind.GONE),
        (TelegramForbiddenError(method, "Forbidden: bot was blocked by the user"), Kind.GONE),
        (TelegramBadRequest(method, "Bad Request: chat not found"), Kind.GONE),
        (TelegramBadRequest(method, "Bad Request: group chat was deactivated"), Kind.GONE),
        (TelegramRetryAfter(method, "Too Many Requests: retry after 7", 7), Kind.RATE_LIMITED),
        (TelegramServerError(method, "Bad Gateway"), Kind.TRANSIENT),
        (TelegramNetworkError(method, "connection dropped"), Kind.TRANSIENT),
        (TimeoutError(), Kind.TRANSIENT),
        (TelegramBadRequest(method, "Bad Request: message is too long"), Kind.REFUSED),
        (TelegramBadRequest(method, "Bad Request: can't parse entities: unclosed tag"), Kind.REFUSED),
    ]
    for exc, kind in cases:
        assert classify(exc).kind == kind, exc
    assert classify(cases[0][0]).migrate_to == -9
    assert classify(cases[5][0]).retry_after == 7


# --------------------------------------------------------------------------- one test per class


async def test_a_group_upgraded_to_a_supergroup_is_followed(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    await consent_and_send(stack.user(21_001))
    first = (await wait_notice(stack, directory, "test-paris"))[0]
    await stack.app.sender.stop()
    await consent_and_send(stack.user(21_002))
    await consent_and_send(stack.user(21_003))
    stack.fake.migrate_chat(PARIS, SUPERGROUP)
    stack.app.sender.start()
    staff = FakeUser(stack.fake, 50_000, chat_id=SUPERGROUP, chat_type="supergroup")
    await stack.fake.wait_for(lambda: len(Directory({"x": staff}).notices("x")) == 3, timeout=10)
    assert len(sends_to(stack, PARIS)) == 2, "one send for the first notice, one refused by the upgrade: no more"
    async with stack.app.runtime.db() as session:
        enrolled = select(EnrolledChat.chat_id).join(Association).where(Association.slug == "test-paris")
        assert await session.scalar(enrolled) == SUPERGROUP
    old = next(m for m in staff.bot_messages() if m["text"] == first)
    await staff.press("Accepter", old["message_id"])
    answers = [str(a) for a in stack.fake.callback_answers.values()]
    assert not any("pas pour ce groupe" in a for a in answers), answers
    assert (await tickets(stack))[0].status == "accepted", "a button on a notice sent to the old group works"
    assert {r.status for r in await outbox(stack)} == {"sent"}


async def test_a_kicked_bot_marks_the_association_unreachable_and_hands_its_tickets_on(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = await enrolled_directory(stack)
    stack.fake.kick_bot(NORD)
    person = stack.user(22_001)
    await consent_and_send(person, "93200")
    assert len(await wait_notice(stack, directory, "test-paris")) == 1, "passed on to the next nearest at once"
    alert = (await wait_alert(stack, "injoignable"))[0]
    assert "test-nord" in alert and "Code" not in alert, "the association, never the person's code"
    assert "pas pu être jointe" in await status_line(person)
    async with stack.app.runtime.db() as session:
        nord = await session.scalar(select(Association).where(Association.slug == "test-nord"))
        assert nord is not None and nord.unreachable_since is not None
    await consent_and_send(stack.user(22_002), "93200")
    assert len(await wait_notice(stack, directory, "test-paris", 2)) == 2, "closed for new requests"
    assert len(sends_to(stack, NORD)) == 1, "the dead chat is tried once, then never again"
    await cli_associations.run(argparse.Namespace(associations_action="list"), stack.backend.database_url)
    assert "unreachable" in next(line for line in capsys.readouterr().out.splitlines() if "test-nord" in line)
    await no_silent_loss(stack)


async def test_a_chat_not_found_is_gone_too(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    stack.fake.delete_chat(PARIS)
    person = stack.user(23_001)
    await consent_and_send(person)
    assert len(await wait_notice(stack, directory, "test-nord")) == 1
    await wait_alert(stack, "injoignable")
    assert "pas pu être jointe" in await status_line(person)
    await no_silent_loss(stack)


async def test_a_message_refused_as_too_long_is_never_resent(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    stack.fake.fail_next("sendMessage", error_code=400, description="Bad Request: message is too long", chat_id=PARIS)
    person = stack.user(24_001)
    await consent_and_send(person)
    await wait_alert(stack, "refusé")
    assert len(await wait_notice(stack, directory, "test-nord")) == 1, "the ticket passes on"
    await fast_forward(stack)
    await asyncio.sleep(0.5)  # the sender had time to try again: it must not
    assert len(sends_to(stack, PARIS)) == 1, "the same bytes are never sent again"
    row = (await outbox(stack))[0]
    assert row.status == "failed" and row.error_class == "refused" and row.text == ""
    assert "pas pu être jointe" in await status_line(person)
    await no_silent_loss(stack)


async def test_a_storm_of_429s_never_counts_towards_giving_up(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    stack.fake.fail_next("sendMessage", error_code=429, retry_after=1, times=25, chat_id=PARIS)
    person = stack.user(25_001)
    await consent_and_send(person)
    reference = reference_on(person)
    for seen in range(1, 26):
        await stack.fake.wait_for(lambda seen=seen: len(stack.fake.faults) >= seen, timeout=10)
        await fast_forward(stack)
    notices = await wait_notice(stack, directory, "test-paris")
    assert len(notices) == 1 and reference in notices[0]
    row = (await outbox(stack))[0]
    assert row.status == "sent" and row.attempts == 0, "a 429 is a wait, not a failure"
    assert (await tickets(stack))[0].status == "delivered"


async def test_5xx_backs_off_then_gives_up_after_the_time_bound(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    stack.fake.fail_next("sendMessage", error_code=502, times=1000, chat_id=PARIS)
    person = stack.user(26_001)
    await consent_and_send(person)
    for attempt in range(1, 23):
        await wait_attempts(stack, attempt)
        await fast_forward(stack)
    row = (await outbox(stack))[0]
    assert row.status == "pending" and row.text, "more than the old 20 tries, and still waiting"
    assert "part vers l'association" in await status_line(person), "honest: not delivered yet"
    async with stack.app.runtime.db.begin() as session:  # the give-up bound has passed
        await session.execute(update(OutboxMessage).values(queued_at=dt.datetime(2000, 1, 1)))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while (await outbox(stack))[0].status != "failed":  # an attempt in flight may defer it once more
        assert loop.time() < deadline, "not given up past the time bound"
        await fast_forward(stack)
        await asyncio.sleep(0.05)
    assert len(await wait_notice(stack, directory, "test-nord")) == 1
    await wait_alert(stack, "abandonné")
    assert "pas pu être jointe" in await status_line(person)
    first = (await outbox(stack))[0]
    assert first.status == "failed" and first.error_class == "transient"
    await no_silent_loss(stack)


async def test_delivered_is_shown_apart_from_sent(stack: Stack) -> None:
    directory, person, _ = await queued_while_stopped(stack, 27_001)
    assert "part vers l'association" in await status_line(person)
    stack.app.sender.start()
    await wait_notice(stack, directory, "test-paris")
    assert "ne l'a pas encore acceptée" in await status_line(person)
    assert (await tickets(stack))[0].status == "delivered"


# --------------------------------------------------------------------------- floods


async def test_a_flood_at_one_association_is_held_not_dropped(backend: Backend, captured_logs: io.StringIO) -> None:
    async with running_stack(backend, captured_logs, alert_chat_id=ALERT_CHAT, notices_per_association_hour=2) as stack:
        alert_chat(stack)
        directory = await enrolled_directory(stack)
        for n in range(4):
            await consent_and_send(stack.user(28_000 + n))
        await consent_and_send(stack.user(28_100), "Rhône")
        assert len(await wait_notice(stack, directory, "test-lyon")) == 1, "other associations still get theirs"
        await wait_notice(stack, directory, "test-paris", 2)
        await wait_alert(stack, "retenue")
        rows = [r for r in await outbox(stack) if r.kind == "notice" and r.chat_id == PARIS]
        held = [r for r in rows if r.status == "held"]
        assert len(held) == 2 and all(r.text for r in held), "held, not dropped"
        assert len(directory.notices("test-paris")) == 2
        url = stack.backend.database_url
        assert await cli_outbox.run(argparse.Namespace(outbox_action="retry", id=held[0].id), url) == 0
        stack.app.sender.wake()
        assert len(await wait_notice(stack, directory, "test-paris", 3)) == 3, "a moderator released one"
        async with stack.app.runtime.db.begin() as session:  # the hour passes
            await session.execute(
                update(OutboxMessage).where(OutboxMessage.status == "sent").values(sent_hour=dt.datetime(2000, 1, 1))
            )
            held_rows = update(OutboxMessage).where(OutboxMessage.status == "held")
            await session.execute(held_rows.values(next_attempt_at=dt.datetime(2000, 1, 1)))
        stack.app.sender.wake()
        assert len(await wait_notice(stack, directory, "test-paris", 4)) == 4
        assert len(await wait_alert(stack, "retenue")) == 1, "one alert for the flood, not one per notice"
        await no_silent_loss(stack)


# --------------------------------------------------------------------------- enrollment


async def test_unenroll_with_pending_rows_sends_nothing_to_the_old_chat(stack: Stack) -> None:
    directory, _, _ = await queued_while_stopped(stack, 29_001)
    async with stack.app.runtime.db.begin() as session:
        assert await unenroll(session, "test-paris")
    stack.app.sender.start()
    assert await pass_on_stranded(stack.app.runtime) == 1
    stack.app.sender.wake()
    assert len(await wait_notice(stack, directory, "test-nord")) == 1
    assert sends_to(stack, PARIS) == []
    assert [r.status for r in await outbox(stack)][:1] == ["canceled"]
    await no_silent_loss(stack)


async def test_re_enroll_moves_pending_rows_to_the_new_chat(stack: Stack) -> None:
    directory, person, _ = await queued_while_stopped(stack, 29_101)
    reference = reference_on(person)
    async with stack.app.runtime.db.begin() as session:
        enrollment = await create_enrollment_code(session, "test-paris")
    stack.app.sender.start()
    await stack.app.sender.stop()
    new_group = stack.user(50_900, chat_id=-7001, chat_type="group")
    await new_group.send(f"/enroll {enrollment}")
    stack.app.sender.start()
    await stack.fake.wait_for(lambda: any(reference in t for t in new_group.texts()), timeout=10)
    assert directory.notices("test-paris") == [] and sends_to(stack, PARIS) == []


# --------------------------------------------------------------------------- alerts, live catalogues


async def test_an_accreditation_ending_within_30_days_is_alerted(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    today = dt.date.today()
    async with stack.app.runtime.db.begin() as session:
        lyon = update(Association).where(Association.slug == "test-lyon")
        await session.execute(lyon.values(accredited_until=today + dt.timedelta(days=12), notice_locale="en"))
    assert await check_accreditations(stack.app.runtime, today) == 1
    stack.app.sender.wake()
    alert = (await wait_alert(stack, "accréditation"))[0]
    assert "test-lyon" in alert
    team = directory.staff["test-lyon"]
    await stack.fake.wait_for(lambda: any("accreditation" in t for t in team.texts()), timeout=10)
    told = [t for t in team.texts() if "accreditation" in t]
    expected = today + dt.timedelta(days=12)
    assert len(told) == 1 and f"{expected:%B} {expected.day}, {expected.year}" in told[0], "in English, its language"

    assert await check_accreditations(stack.app.runtime, today) == 0, "told once per level, not every day"
    assert await check_accreditations(stack.app.runtime, today + dt.timedelta(days=5)) == 1, "then 7 days before"


async def test_alerts_go_to_the_moderators_without_an_alert_chat(backend: Backend, captured_logs: io.StringIO) -> None:
    async with running_stack(backend, captured_logs, moderator_ids="77001,77002") as stack:
        moderators = [stack.user(77_001), stack.user(77_002)]
        directory = await enrolled_directory(stack)
        stack.fake.kick_bot(PARIS)
        await consent_and_send(stack.user(30_001))
        await wait_notice(stack, directory, "test-nord")
        for moderator in moderators:
            await stack.fake.wait_for(lambda m=moderator: any("injoignable" in t for t in m.texts()), timeout=10)
        for moderator in moderators:
            assert not any("Code" in t for t in moderator.texts()), "alerts carry no person's data"


async def test_the_sender_reads_the_live_catalogues(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    async with stack.app.runtime.db.begin() as session:
        await session.execute(update(Association).where(Association.slug == "test-paris").values(notice_locale="en"))
    source = (Path(__file__).parents[1] / "locales/en/LC_MESSAGES/messages.po").read_text(encoding="utf-8")
    marker = 'msgid "✅ Accepter"\nmsgstr "'
    assert marker in source
    approved = source.replace(marker, marker + "NEW ", 1)
    stack.app.runtime.serve(stack.app.runtime.script, Catalogs.from_sources({"en": approved}))
    await consent_and_send(stack.user(31_001))
    staff = directory.staff["test-paris"]
    notice = await stack.fake.wait_for(lambda: next((m for m in staff.bot_messages() if m.get("reply_markup")), None))
    assert staff.buttons(notice)[0][0] == "NEW ✅ Accept", "the button as approved now, not as at start-up"


# --------------------------------------------------------------------------- pacing, the operator's view


async def test_the_sender_paces_itself_within_telegrams_limits() -> None:
    pacer = Pacer()
    for _ in range(20):
        assert pacer.wait(PARIS) == 0
        pacer.sent(PARIS)
    assert 59 < pacer.wait(PARIS) <= 60, "the 21st message to one group in a minute waits"
    assert pacer.wait(NORD) == 0, "another group does not"
    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(4):
        await pacer.gap()
    assert loop.time() - started >= 3 / 30 - 0.01, "at most 30 a second overall"


async def test_notices_go_before_relays_and_the_list_shows_no_text(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = await enrolled_directory(stack)
    await stack.app.sender.stop()
    async with stack.app.runtime.db.begin() as session:
        session.add(OutboxMessage(chat_id=PARIS, kind="info", text="secret words of a reminder"))
        session.add(OutboxMessage(chat_id=PARIS, kind="relay", text="secret words of a person"))
    code = await consent_and_send(stack.user(32_001))
    url = stack.backend.database_url
    assert await cli_outbox.run(argparse.Namespace(outbox_action="list", all=False), url) == 0
    listing = capsys.readouterr().out
    assert "test-paris" in listing and "pending" in listing and "relay" in listing
    assert "secret" not in listing and code not in listing, "never a message's text"
    stack.app.sender.start()
    await stack.fake.wait_for(lambda: len(directory.staff["test-paris"].texts()) >= 4, timeout=10)
    texts = directory.staff["test-paris"].texts()[1:]
    assert "demande anonyme" in texts[0].lower(), "the notice first, though written last"
    assert texts[1:] == ["secret words of a person", "secret words of a reminder"]
