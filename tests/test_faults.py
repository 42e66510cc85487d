"""When things fail: Telegram storms, a lost database connection, two senders, `kill -9`.

Each test asserts that no notice is lost or duplicated, and that the person is told
something clear. They run on both backends (SQLite + memory, PostgreSQL + Redis).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import event, select, update

from bot.app import App
from storage.db import create_engine, ensure_schema, sessions
from storage.directory.csvfile import import_csv
from storage.directory.enrollment import create_enrollment_code, enroll
from storage.models import OutboxMessage, Ticket
from tests.support.backends import Backend
from tests.support.fake_telegram import FakeTelegram, FakeUser
from tests.support.fake_telegram.server import DEFAULT_TOKEN
from tests.support.handoff_fixtures import DIRECTORY, GROUPS, Directory, enrolled_directory, reference_on
from tests.support.stack import SECRET, Stack, make_settings
from tests.support.walks import walk_to_consent
from tests.test_handoff import consent_and_send, wait_notice

ROOT = Path(__file__).resolve().parents[1]
PARIS = GROUPS["test-paris"]


async def outbox(stack: Stack) -> list[OutboxMessage]:
    async with stack.app.runtime.db() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


async def fast_forward(stack: Stack) -> None:
    """Make every retry due now, as if its delay had passed, and wake the sender."""
    async with stack.app.runtime.db.begin() as session:
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.status == "pending").values(next_attempt_at=None)
        )
    stack.app.sender.wake()


async def wait_attempts(stack: Stack, attempts: int, timeout: float = 10) -> OutboxMessage:
    """The notice's row, once the sender has failed `attempts` times (polled: a database
    write wakes nothing in the fake)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        rows = await outbox(stack)
        if rows and rows[0].attempts >= attempts:
            return rows[0]
        await asyncio.sleep(0.02)
    raise AssertionError(f"the sender did not fail {attempts} time(s) within {timeout} s")


async def wait_failures(stack: Stack, failures: int, timeout: float = 10) -> OutboxMessage:
    """The notice's row, once Telegram has failed `failures` sends and the sender has put the
    row back to wait (a 429 is not an attempt: it never counts towards giving up)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        rows = await outbox(stack)
        if len(stack.fake.faults) >= failures and rows and rows[0].claimed_until is None:
            return rows[0]
        await asyncio.sleep(0.02)
    raise AssertionError(f"the sender did not see {failures} failure(s) within {timeout} s")


async def test_a_storm_of_429_5xx_and_dropped_connections(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    faults = [("fail", 429), ("fail", 429), ("fail", 502), ("drop", 0), ("fail", 500), ("drop", 0)]
    user = stack.user()
    await consent_and_send(
        user, before_sending=lambda: stack.fake.fail_next("sendMessage", error_code=429, retry_after=7, chat_id=PARIS)
    )
    row = await wait_failures(stack, 1)
    assert row.next_attempt_at is not None and row.attempts == 0, "a 429 is waited out, not counted"
    wait = (row.next_attempt_at - dt.datetime.now(dt.UTC).replace(tzinfo=None)).total_seconds()
    assert 5 < wait <= 7, "Telegram's retry_after is honoured"
    for attempt, (kind, error_code) in enumerate(faults[1:], start=2):
        if kind == "fail":
            stack.fake.fail_next("sendMessage", error_code=error_code, retry_after=1)
        else:
            stack.fake.drop_next("sendMessage")  # the connection breaks before Telegram acts
        await fast_forward(stack)
        await wait_failures(stack, attempt)
    assert (await outbox(stack))[0].attempts == 4, "the 5xx and dropped connections count, the 429s do not"
    assert directory.notices("test-paris") == []
    await fast_forward(stack)
    notices = await wait_notice(stack, directory, "test-paris")
    assert len(notices) == 1 and reference_on(user) in notices[0], "delivered once, after the storm"
    assert [f.error_code for f in stack.fake.faults if f.error_code] == [429, 429, 502, 500]
    assert [row.status for row in await outbox(stack)] == ["sent"]
    assert stack.fake.refused == []


async def test_an_answer_lost_after_telegram_acted_gives_a_recognisable_copy(stack: Stack) -> None:
    """The one case no Bot API client can rule out: Telegram sent the notice, and its answer
    was lost. Losing a notice is worse than repeating it, so it is sent again; the copy
    names the same ticket, and the ticket can only be decided once."""
    directory = await enrolled_directory(stack)
    await consent_and_send(
        stack.user(), before_sending=lambda: stack.fake.drop_next("sendMessage", after_processing=True, chat_id=PARIS)
    )
    await wait_attempts(stack, 1)
    await fast_forward(stack)
    notices = await wait_notice(stack, directory, "test-paris", 2)
    assert len(notices) == 2 and notices[0] == notices[1]
    staff = directory.staff["test-paris"]
    first, second = [m for m in staff.bot_messages() if "demande anonyme" in m["text"].lower()]
    await staff.press("✅ Accepter", first["message_id"])
    await staff.press("✅ Accepter", second["message_id"])
    answers = [str(a) for a in stack.fake.callback_answers.values()]
    assert any("déjà" in a for a in answers), answers


async def test_the_database_connection_lost_mid_handoff(stack: Stack) -> None:
    if not stack.backend.is_postgresql:
        pytest.skip("SQLite is a file in this process: there is no connection to lose")
    directory = await enrolled_directory(stack)
    kills = {"left": 1}

    @event.listens_for(stack.app.database.sync_engine, "before_cursor_execute")
    def kill_the_connection(connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("INSERT INTO tickets") and kills["left"] > 0:
            kills["left"] -= 1
            connection.exec_driver_sql("SELECT pg_terminate_backend(pg_backend_pid())")

    user = stack.user()
    await consent_and_send(user)
    notices = await wait_notice(stack, directory, "test-paris")
    assert kills["left"] == 0, "the connection was killed inside the handoff's transaction"
    assert len(notices) == 1 and reference_on(user) in notices[0]
    async with stack.app.runtime.db() as session:
        assert len(list(await session.scalars(select(Ticket)))) == 1
    assert "database connection lost; retrying" in stack.logs.getvalue()

    # Down for longer than the retries: the person is told, and nothing half-made is kept.
    kills["left"] = 3
    user = stack.user(20_002)
    await walk_to_consent(user, "fr")
    await user.press("Oui, envoyer")
    assert "quelque chose n'a pas marché" in user.last()["text"]
    async with stack.app.runtime.db() as session:
        assert len(list(await session.scalars(select(Ticket)))) == 1
    assert len(directory.notices("test-paris")) == 1
    await user.send("/start")  # back where they were: sending again works
    await user.press("Oui, envoyer")
    assert "C'est envoyé" in user.last()["text"]
    assert len(await wait_notice(stack, directory, "test-paris", 2)) == 2
    event.remove(stack.app.database.sync_engine, "before_cursor_execute", kill_the_connection)


async def test_two_instances_sending_from_one_outbox(stack: Stack) -> None:
    directory = await enrolled_directory(stack)
    await stack.app.sender.stop()  # the notices wait in the outbox
    people = [stack.user(30_000 + n) for n in range(8)]
    for person in people:
        await consent_and_send(person)
    refs = [reference_on(person) for person in people]
    other = await App.create(make_settings(stack.backend, stack.fake.base_url))
    try:
        stack.app.sender.start()
        other.sender.start()
        notices = await wait_notice(stack, directory, "test-paris", len(refs))
        await asyncio.sleep(1.0)  # both senders polled again: nothing more may come
        notices = directory.notices("test-paris")
    finally:
        await other.sender.stop()
        await other.close()
    assert sorted(next(r for r in refs if r in n) for n in notices) == sorted(refs), "each exactly once"
    assert {row.status for row in await outbox(stack)} == {"sent"}


# ---------------------------------------------------------------------------- kill -9


class HoldingTelegram(FakeTelegram):
    """Holds sends to one chat until released; if the sender dies meanwhile, Telegram never acts."""

    def __init__(self) -> None:
        super().__init__()
        self.hold_chat: int | None = None
        self.holding = asyncio.Event()
        self.abandoned = asyncio.Event()

    async def _dispatch(self, spec: Any, params: Any, *rest: Any) -> Any:
        request: web.Request | None = rest[0] if rest else None
        if (
            spec.name == "sendMessage"
            and self.hold_chat is not None
            and int(params.get("chat_id", 0)) == self.hold_chat
        ):
            self.holding.set()
            while self.hold_chat is not None:
                if request is not None and (request.transport is None or request.transport.is_closing()):
                    self.abandoned.set()
                    raise asyncio.CancelledError  # the client is gone: nothing happened
                await asyncio.sleep(0.02)
        return await super()._dispatch(spec, params, *rest)


class SettlingUser(FakeUser):
    """For a bot that handles updates as tasks (a real `passerelle run`): each action
    returns once the screen has changed, not merely once the update was fetched."""

    def _screen(self) -> str:
        messages = self.bot_messages()
        return json.dumps([len(messages), messages[-1] if messages else None], sort_keys=True, default=str)

    async def _push(self, payload: dict[str, Any]) -> dict[str, Any]:
        before = self._screen()
        update_ = await super()._push(payload)
        await self.fake.wait_for(lambda: self._screen() != before, timeout=15)
        return update_


async def prepare_directory(backend: Backend) -> None:
    engine = create_engine(backend.database_url)
    await ensure_schema(engine)
    db = sessions(engine)
    async with db.begin() as session:
        await import_csv(session, DIRECTORY.encode())
    async with db.begin() as session:
        code = await create_enrollment_code(session, "test-paris")
    async with db.begin() as session:
        assert await enroll(session, code, PARIS) is not None
    await engine.dispose()


@pytest.fixture
async def holding_fake() -> AsyncIterator[HoldingTelegram]:
    async with HoldingTelegram() as fake:
        yield fake


def start_bot(backend: Backend, fake: FakeTelegram, name: str) -> subprocess.Popen[bytes]:
    """A real `passerelle run`, its output in a file of the test's folder."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "BOT_TOKEN": DEFAULT_TOKEN,
        "BOT_API_URL": fake.base_url or "",
        "PASSERELLE_SECRET": SECRET,
        "OUTBOX_LEASE_SECONDS": "2",
        **{k.upper(): str(v) for k, v in backend.settings().items()},
    }
    with open(backend.folder / f"{name}.log", "wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run"],
            cwd=backend.folder,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


async def polling(process: subprocess.Popen[bytes], fake: FakeTelegram, since: int, log: Path) -> None:
    """Until the process polls (a cold start imports aiogram: slow on a busy machine)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 90
    while not any(r.method == "getUpdates" for r in fake.requests[since:]):
        if process.poll() is not None or loop.time() > deadline:
            raise AssertionError(f"the bot did not start polling:\n{log.read_text(errors='replace')[-3000:]}")
        await asyncio.sleep(0.1)


async def test_kill_9_during_a_handoff_then_a_restart(backend: Backend, holding_fake: HoldingTelegram) -> None:
    fake = holding_fake
    await prepare_directory(backend)
    staff = Directory({"test-paris": FakeUser(fake, 50_000, chat_id=PARIS, chat_type="group", chat_title="test-paris")})
    first = start_bot(backend, fake, "first")
    try:
        await polling(first, fake, 0, backend.folder / "first.log")
        user = SettlingUser(fake, 40_001)
        await walk_to_consent(user, "fr")
        fake.hold_chat = PARIS
        await user.press("Oui, envoyer")
        assert "C'est envoyé" in user.last()["text"], "the person has their code at once"
        await asyncio.wait_for(fake.holding.wait(), 10)
        first.send_signal(signal.SIGKILL)  # mid-send: Telegram has not acted
        await asyncio.wait_for(fake.abandoned.wait(), 10)
    finally:
        if first.poll() is None:
            first.kill()
        await asyncio.to_thread(first.wait, 10)
    fake.hold_chat = None
    assert staff.notices("test-paris") == []
    second = start_bot(backend, fake, "second")
    try:
        await polling(second, fake, len(fake.requests), backend.folder / "second.log")
        await fake.wait_for(lambda: staff.notices("test-paris"), timeout=30)
        await asyncio.sleep(2.5)  # past another lease: a second copy would have come by now
        assert len(staff.notices("test-paris")) == 1
    finally:
        second.send_signal(signal.SIGINT)
        try:
            second.wait(20)
        except subprocess.TimeoutExpired:
            second.kill()
    assert fake.refused == []
