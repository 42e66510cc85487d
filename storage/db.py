"""The database: engine, sessions and schema migrations. SQLite by default, created on demand."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, CursorResult, Executable, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
log = logging.getLogger(__name__)
T = TypeVar("T")


class SchemaOutdated(Exception):
    """The database holds data of an older schema: upgrading it is the operator's call."""


def create_engine(url: str) -> AsyncEngine:
    """An async engine; for SQLite the folder is created and foreign keys are enforced."""
    parsed = make_url(url)
    sqlite = parsed.get_backend_name() == "sqlite"
    if sqlite and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, pool_pre_ping=not sqlite)
    if sqlite:

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            # Blanked or deleted rows (a relayed message, a notice holding a code) are
            # overwritten with zeros, not left readable in free pages. No WAL: its old
            # frames would keep them too.
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

    return engine


STARTUP_LOCK = 0x5061_7373  # "Pass"
"""The PostgreSQL advisory lock taken by `one_at_a_time`."""


async def one_at_a_time(connection: AsyncConnection | AsyncSession) -> None:
    """Hold, until this transaction ends, a lock shared by every instance on this database.

    Instances started together on a new database would otherwise all create the schema,
    or all seed the approved release, and all but one fail. SQLite serialises writers
    by itself, and holds one process's database anyway.
    """
    dialect = connection.dialect if isinstance(connection, AsyncConnection) else connection.get_bind().dialect
    if dialect.name == "postgresql":
        await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": STARTUP_LOCK})


def on_postgresql(session: AsyncSession) -> bool:
    """Row locks with SKIP LOCKED exist there; SQLite has one writer at a time anyway."""
    return session.bind is not None and session.bind.dialect.name == "postgresql"


async def rows_changed(session: AsyncSession, statement: Executable) -> int:
    """Run an UPDATE, a DELETE or an INSERT … SELECT and say how many rows it touched.

    Such statements give a CursorResult, which has `rowcount`; `execute()` is typed as the
    general Result, so the cast lives here, once."""
    result = cast("CursorResult[Any]", await session.execute(statement))
    return int(result.rowcount or 0)


def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def in_transaction(
    db: async_sessionmaker[AsyncSession], work: Callable[[AsyncSession], Awaitable[T]], attempts: int = 3
) -> T:
    """Run `work` in one transaction, again on a new connection if the connection was lost.

    A restarted PostgreSQL, a failover or a proxy's idle timeout kills connections under a
    transaction; its writes were rolled back, so running `work` again is safe, provided
    `work` is idempotent for the one case where the commit went through but its answer
    was lost (the caller decides how: see `storage.tickets.create_ticket`).
    """
    for attempt in range(1, attempts + 1):
        try:
            async with db.begin() as session:
                return await work(session)
        except DBAPIError as exc:
            if not exc.connection_invalidated or attempt == attempts:
                raise
            log.warning("database connection lost; retrying (attempt %d of %d)", attempt + 1, attempts)
            await asyncio.sleep(0.1 * 2**attempt)
    raise AssertionError("unreachable")


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _head() -> str | None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def all_or_nothing(connection: AsyncConnection) -> None:
    """Make this transaction's schema changes one: Python's sqlite3 opens no transaction
    before a CREATE or an ALTER, so each would be committed alone, and a creation or an
    upgrade that failed half way would leave a schema that no start accepts and no upgrade
    completes. PostgreSQL's changes are transactional already."""
    if connection.dialect.name == "sqlite":
        await connection.exec_driver_sql("BEGIN IMMEDIATE")


async def migrate(connection: AsyncConnection, revision: str = "head") -> None:
    """Run the migrations up to `revision` in this connection's transaction, as one change.
    The caller holds the startup lock (`one_at_a_time`)."""
    await all_or_nothing(connection)
    await connection.run_sync(lambda sync: command.upgrade(_config(sync), revision))


async def upgrade(engine: AsyncEngine, revision: str = "head") -> tuple[str | None, str | None]:
    """Apply migrations in place; returns (revision before, revision after)."""
    async with engine.begin() as connection:
        await one_at_a_time(connection)
        before = await connection.run_sync(_current)
        await migrate(connection, revision)
        after = await connection.run_sync(_current)
    return before, after


async def ensure_schema(engine: AsyncEngine) -> None:
    """A new, empty database is created; an outdated one is refused, never altered silently.

    The version and the tables are read under the startup lock, in the transaction that
    creates them: read outside it, another instance could commit a new schema between the
    two reads, and this one would see tables without a version and refuse to start."""
    async with engine.begin() as connection:
        await one_at_a_time(connection)
        current = await connection.run_sync(_current)
        if current is None and not await connection.run_sync(lambda sync: sync.dialect.get_table_names(sync)):
            await migrate(connection)
            return
    if current != _head():
        raise SchemaOutdated(f"database schema {current} is not the current {_head()}")
