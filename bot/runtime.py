"""What every turn and every background job needs, built once at start-up: the `Runtime`."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import handoff, texts
from bot.config import Settings
from bot.conversation.erasure import Erasures
from bot.metrics import Metrics
from bot.state.limits import HANDOFF_WINDOW, RELAY_WINDOW, GuessLimiter, Limiter, MemoryQuota, Quota
from dialogs.engine import Engine
from dialogs.i18n import Catalogs, Translator
from dialogs.loader import LoadedScript
from storage.places import PlaceParser


@dataclass
class Runtime:
    """What every turn needs, built once at start-up."""

    settings: Settings
    catalogs: Catalogs
    script: LoadedScript
    db: async_sessionmaker[AsyncSession]
    clock: Callable[[], float] = time.time
    limiter: Limiter = field(default_factory=GuessLimiter)
    handoff_quota: Quota = field(default_factory=lambda: MemoryQuota(3, HANDOFF_WINDOW))
    """Handoffs per person (pseudonym); set from the settings by the app."""
    relay_quota: Quota = field(default_factory=lambda: MemoryQuota(10, RELAY_WINDOW))
    """Relays per ticket (code hash); set from the settings by the app."""
    wake_sender: Callable[[], None] = lambda: None
    """Set by the app once the outbox sender runs."""
    reload_approved: Callable[[], Awaitable[bool]] = field(default=lambda: _nothing())
    """Set by the app: serve a decision a moderator just made."""
    preview: Any = None
    """Moderators' preview: the files' unapproved content (bot.moderation.Content)."""
    preview_engine: Engine | None = None
    metrics: Metrics = field(default_factory=Metrics)
    """This App's counters, in a registry of its own (bot.metrics)."""
    erasures: Erasures = field(init=False)
    """Quick exits and erasures still running: in memory only, stopped with the app."""

    def __post_init__(self) -> None:
        self.erasures = Erasures(lambda: self.clock())

    @cached_property
    def engine(self) -> Engine:
        return self.script.engine({"place": PlaceParser()})

    def set_preview(self, content: Any) -> None:
        self.preview = content
        self.preview_engine = content.script.engine({"place": PlaceParser()})

    def serve(self, script: LoadedScript, catalogs: Catalogs) -> None:
        """Swap in newly approved content. Conversations on the old version restart cleanly."""
        self.script, self.catalogs = script, catalogs
        for derived in ("engine", "picker_prompts"):
            self.__dict__.pop(derived, None)

    def translator(self, locale: str | None) -> Translator:
        """The served catalogue of `locale`; the default language's when there is none (a chat
        no association holds, a ticket whose association is gone)."""
        return self.catalogs.get(locale or self.settings.default_locale)

    @cached_property
    def directory(self) -> handoff.DirectoryCache:
        return handoff.DirectoryCache(self.db)

    @cached_property
    def picker_prompts(self) -> tuple[str, ...]:
        return tuple(self.catalogs.get(loc).gettext(texts.CHOOSE_LANGUAGE) for loc in self.catalogs.locales)


async def _nothing() -> bool:
    return False
