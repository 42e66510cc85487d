"""The real stack under test: aiogram polls a fake Bot API over HTTP.

Every test that takes `backend` (and so every `stack` test) runs twice: on a real SQLite
file with memory state, and on real PostgreSQL with Redis (see tests/support/backends.py).
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.app import App
from bot.config import Settings, load_settings
from bot.logs import setup_logging
from tests.support.backends import (
    BACKENDS,
    SERVERS_MISSING,
    TEST_DATABASE_URL,
    TEST_REDIS_URL,
    Backend,
    StateView,
    open_backend,
)
from tests.support.fake_telegram import FakeTelegram, FakeUser
from tests.support.fake_telegram.server import DEFAULT_TOKEN
from tests.support.self_contained import install as refuse_reads_outside_the_repository

refuse_reads_outside_the_repository()

SECRET = "test-secret-" + "0" * 32


@dataclass
class Stack:
    """One running bot and the fake Telegram it talks to."""

    fake: FakeTelegram
    app: App
    logs: io.StringIO
    backend: Backend

    def user(self, user_id: int = 10_001, **kwargs: object) -> FakeUser:
        return FakeUser(self.fake, user_id, **kwargs)  # type: ignore[arg-type]

    async def deletions_done(self, timeout: float = 15) -> None:
        """Until the quick exits and erasures running in the background are over (polled: a
        finished task wakes nothing in the fake)."""
        erasures = self.app.runtime.erasures
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while erasures.pending:
            assert loop.time() < deadline, f"the deletions did not finish within {timeout} s"
            await asyncio.sleep(0.02)

    @property
    def state(self) -> StateView:
        """Conversation state, in memory or in Redis."""
        return StateView(self.app.dispatcher.storage)


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """SQLite with memory state; then PostgreSQL with Redis, when the servers are given."""
    if request.param == "postgresql" and not (TEST_DATABASE_URL and TEST_REDIS_URL):
        pytest.skip(SERVERS_MISSING)
    async with open_backend(request.param, tmp_path) as opened:
        yield opened


@pytest.fixture
def database_url(backend: Backend) -> str:
    return backend.database_url


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """Everything the program logs, through the program's own handler and formatter."""
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    setup_logging("DEBUG", stream)
    yield stream
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def make_settings(backend: Backend, base_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {"bot_token": DEFAULT_TOKEN, "bot_api_url": base_url, "passerelle_secret": SECRET}
    values.update(backend.settings())
    values.update(overrides)
    return load_settings(**values)


@asynccontextmanager
async def running_stack(
    backend: Backend, logs: io.StringIO, *, as_tasks: bool = False, **overrides: object
) -> AsyncIterator[Stack]:
    """A fake Telegram and the real app polling it; settings overridable (e.g. moderator_ids).

    By default updates are handled one after the other (handle_as_tasks=False): aiogram
    polls again only once an update is handled, which is how the fake knows a user's action
    has settled. `as_tasks=True` handles them concurrently, as `passerelle run` does; a
    user's action then returns once the update is taken, and tests wait for its effects.
    """
    async with FakeTelegram() as fake:
        settings = make_settings(backend, fake.base_url, **overrides)
        app = await App.create(settings)
        polling = asyncio.create_task(app.run_polling(handle_as_tasks=as_tasks, handle_signals=False))
        await fake.wait_for(lambda: fake.polls > 0)  # checked the token, set the menus, polling
        try:
            yield Stack(fake, app, logs, backend)
        finally:
            await app.stop()
            await asyncio.wait_for(polling, 10)
            await app.close()


@pytest.fixture
async def stack(backend: Backend, captured_logs: io.StringIO) -> AsyncIterator[Stack]:
    async with running_stack(backend, captured_logs) as running:
        yield running


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say plainly what was skipped and why, one line per reason (not one per test)."""
    reasons: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reason = reason.removeprefix("Skipped: ")
        reasons[reason] = reasons.get(reason, 0) + 1
    for reason, count in reasons.items():
        terminalreporter.write_line(f"SKIPPED {count} test(s): {reason}", yellow=True)
