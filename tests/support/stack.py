"""One running bot and the fake Telegram it talks to: what the `stack` fixture yields.

Kept apart from conftest.py so that tests, helpers and benchmarks import it like any module.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot.app import App
from bot.config import Settings, load_settings
from tests.support.backends import Backend, StateView
from tests.support.fake_telegram import FakeTelegram, FakeUser
from tests.support.fake_telegram.server import DEFAULT_TOKEN

SECRET = "test-secret-" + "0" * 32


@dataclass
class Stack:
    """One running bot and the fake Telegram it talks to."""

    fake: FakeTelegram
    app: App
    logs: io.StringIO
    backend: Backend

    def user(self, user_id: int = 10_001, **kwargs: object) -> FakeUser:
        return FakeUser(self.fake, user_id, **kwargs)  # type: ignore[arg-type]  # FakeUser's keyword arguments, passed through

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
