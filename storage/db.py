"""The database engine. SQLite by default, created on demand; PostgreSQL by URL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import String, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA_VERSION = "1"


class Base(DeclarativeBase):
    pass


class SchemaInfo(Base):
    """Which schema this database holds, so start-up can refuse an outdated one."""

    __tablename__ = "schema_info"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(64))


def create_engine(url: str) -> AsyncEngine:
    """An async engine; for SQLite the folder is created and foreign keys are enforced."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url)
    if parsed.get_backend_name() == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(connection, _record):  # type: ignore[no-untyped-def]
            cursor = connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

    return engine


async def init_db(engine: AsyncEngine) -> None:
    """Create missing tables and record the schema version."""
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    sessions = async_sessionmaker(engine)
    async with sessions.begin() as session:
        if await session.get(SchemaInfo, "version") is None:
            session.add(SchemaInfo(key="version", value=SCHEMA_VERSION))
