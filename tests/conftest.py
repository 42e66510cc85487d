"""The real stack under test: aiogram polls a fake Bot API over HTTP.

Every test that takes `backend` (and so every `stack` test) runs twice: on a real SQLite
file with memory state, and on real PostgreSQL with Redis (see tests/support/backends.py).
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.logs import setup_logging
from storage.db import create_engine, sessions, upgrade
from tests.support.backends import (
    BACKENDS,
    SERVERS_MISSING,
    TEST_DATABASE_URL,
    TEST_REDIS_URL,
    Backend,
    open_backend,
)
from tests.support.self_contained import install as refuse_reads_outside_the_repository
from tests.support.stack import Stack, running_stack

refuse_reads_outside_the_repository()


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`pytest -n auto`: one worker more than the cores, since the tests spend much of their
    time waiting on the fake Bot API, PostgreSQL and Redis (measured on 2 cores: 3 workers
    ran the suite in 5 min 21 s against 12 min 37 s for one process). At most 8: each worker
    takes a Redis database of its own, and Redis has 16 unless configured otherwise."""
    return min((os.cpu_count() or 1) + 1, 8)


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
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """The backend's database, migrated to the latest schema, without a bot."""
    engine = create_engine(database_url)
    await upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with sessions(engine)() as session:
        yield session


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
