"""The two backends every stack test runs on: SQLite with memory state, PostgreSQL with Redis.

PostgreSQL and Redis are real servers, named by TEST_DATABASE_URL (an admin connection:
each test gets a database of its own, dropped afterwards) and TEST_REDIS_URL (flushed
around each test; under pytest-xdist each worker has a database of its own, see
`redis_for_this_worker`). `.ci/run` starts both.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy.engine import make_url


def redis_for_this_worker(url: str | None) -> str | None:
    """The Redis database of this test process: the one named when pytest runs alone; under
    pytest-xdist, that number plus the worker's (gw0, gw1…), since every test flushes its
    database and kills its connections to play a restart."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not url or not worker.startswith("gw"):
        return url
    parts = urlsplit(url)
    database = int(parts.path.strip("/") or 0) + int(worker[2:])
    if database > 15:
        raise RuntimeError(
            f"TEST_REDIS_URL: worker {worker} would use Redis database {database}; start lower, or fewer workers"
        )
    return urlunsplit(parts._replace(path=f"/{database}"))


TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
TEST_REDIS_URL = redis_for_this_worker(os.environ.get("TEST_REDIS_URL"))
SERVERS_MISSING = "TEST_DATABASE_URL and TEST_REDIS_URL are not both set: the PostgreSQL + Redis runs were skipped"
BACKENDS = ("sqlite", "postgresql")


@dataclass
class Backend:
    """Where one test's bot keeps its database and its conversation state."""

    name: str
    database_url: str
    redis_url: str | None
    folder: Path

    @property
    def is_postgresql(self) -> bool:
        return self.name == "postgresql"

    def settings(self) -> dict[str, object]:
        values: dict[str, object] = {"database_url": self.database_url}
        if self.redis_url:
            values["redis_url"] = self.redis_url
        return values

    def database_bytes(self) -> bytes:
        """What a backup holds: the SQLite file (and its WAL), or a full `pg_dump`."""
        if not self.is_postgresql:
            path = Path(make_url(self.database_url).database or "")
            wal = path.with_name(path.name + "-wal")
            return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
        url = make_url(self.database_url).set(drivername="postgresql")
        dump = subprocess.run(
            [pg_dump(), "--no-owner", f"--dbname={url.render_as_string(hide_password=False)}"],
            capture_output=True,
            check=True,
            timeout=60,
        )
        return dump.stdout


def pg_dump() -> str:
    """Debian's wrapper when on PATH, or the newest server's own binary."""
    found = shutil.which("pg_dump")
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_dump"), key=lambda p: int(p.parts[-3]))
    if not candidates:
        raise RuntimeError("pg_dump not found: install Debian's postgresql-client")
    return str(candidates[-1])


@asynccontextmanager
async def open_backend(name: str, folder: Path) -> AsyncIterator[Backend]:
    """A fresh, empty database (and an empty Redis) for one test."""
    if name == "sqlite":
        yield Backend(name, f"sqlite+aiosqlite:///{folder / 'passerelle.sqlite3'}", None, folder)
        return
    assert TEST_DATABASE_URL and TEST_REDIS_URL
    import asyncpg
    from redis.asyncio import Redis

    admin_url = make_url(TEST_DATABASE_URL)
    database = f"passerelle_test_{uuid.uuid4().hex[:12]}"
    admin_dsn = admin_url.set(drivername="postgresql").render_as_string(hide_password=False)
    admin = await asyncpg.connect(admin_dsn)
    redis = Redis.from_url(TEST_REDIS_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{database}" TEMPLATE template0')
        await redis.flushdb()
        url = admin_url.set(drivername="postgresql+asyncpg", database=database)
        yield Backend(name, url.render_as_string(hide_password=False), TEST_REDIS_URL, folder)
    finally:
        await redis.flushdb()
        await redis.aclose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


class StateView:
    """The FSM storage as a test sees it, whichever backend holds it."""

    def __init__(self, storage: Any) -> None:
        self.storage = storage
        self.redis = getattr(storage, "redis", None)

    async def dump(self) -> str:
        """Every key and value held, as text: what someone reading the store would see."""
        if self.redis is None:
            return json.dumps(self.storage.dump(), ensure_ascii=False)
        parts = []
        for key in sorted(await self.redis.keys("*")):
            kind = (await self.redis.type(key)).decode()
            value = await self.redis.get(key) if kind == "string" else await self.redis.dump(key)
            parts.append(f"{key.decode(errors='replace')} {value.decode(errors='replace') if value else ''}")
        return "\n".join(parts)

    async def count(self) -> int:
        """Conversations held: one per pseudonym with a state or data."""
        if self.redis is None:
            return int(self.storage.count())
        keys = [key.decode() for key in await self.redis.keys("fsm:*")]
        return len({key.rsplit(":", 1)[0] for key in keys if key.endswith((":data", ":state"))})

    async def forget_everything(self) -> None:
        """As if every TTL had passed."""
        if self.redis is None:
            await self.storage.close()
        else:
            await self.redis.flushdb()

    async def edit_data(self, change: Callable[[dict[str, Any]], None]) -> None:
        """Rewrite every conversation's data in place."""
        if self.redis is None:
            for record in self.storage._records.values():
                change(record.data)
            return
        for key in await self.redis.keys("fsm:*:data"):
            data = json.loads(await self.redis.get(key))
            change(data)
            await self.redis.set(key, json.dumps(data), keepttl=True)
