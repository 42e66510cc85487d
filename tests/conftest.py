"""The real stack under test: aiogram polls a fake Bot API over HTTP, on a real SQLite file."""

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
from bot.pseudonym import PseudonymousMemoryStorage
from tests.fake_telegram import DEFAULT_TOKEN, FakeTelegram, FakeUser

SECRET = "test-secret-" + "0" * 32


@dataclass
class Stack:
    """One running bot and the fake Telegram it talks to."""

    fake: FakeTelegram
    app: App
    logs: io.StringIO
    database_file: Path

    def user(self, user_id: int = 10_001, **kwargs: object) -> FakeUser:
        return FakeUser(self.fake, user_id, **kwargs)  # type: ignore[arg-type]

    @property
    def storage(self) -> PseudonymousMemoryStorage:
        storage = self.app.dispatcher.storage
        assert isinstance(storage, PseudonymousMemoryStorage)
        return storage


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


def make_settings(tmp_path: Path, base_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "bot_token": DEFAULT_TOKEN,
        "bot_api_url": base_url,
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'passerelle.sqlite3'}",
        "passerelle_secret": SECRET,
    }
    values.update(overrides)
    return load_settings(**values)


@asynccontextmanager
async def running_stack(tmp_path: Path, logs: io.StringIO, **overrides: object) -> AsyncIterator[Stack]:
    """A fake Telegram and the real app polling it; settings overridable (e.g. moderator_ids)."""
    async with FakeTelegram() as fake:
        settings = make_settings(tmp_path, fake.base_url, **overrides)
        app = await App.create(settings)
        # handle_as_tasks=False: aiogram polls again only once an update is handled,
        # which is how the fake knows a user's action has settled.
        polling = asyncio.create_task(app.run_polling(handle_as_tasks=False, handle_signals=False))
        await fake.wait_for(lambda: any(r.method == "getMe" for r in fake.requests))
        try:
            yield Stack(fake, app, logs, tmp_path / "passerelle.sqlite3")
        finally:
            await app.stop()
            await asyncio.wait_for(polling, 10)
            await app.close()


@pytest.fixture
async def stack(tmp_path: Path, captured_logs: io.StringIO) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path, captured_logs) as running:
        yield running
