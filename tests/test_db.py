"""Schema migrations, retention, and what the command line does with them."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select, text

from storage.db import (
    SchemaOutdated,
    create_engine,
    ensure_schema,
    migrate,
    one_at_a_time,
    sessions,
    upgrade,
)
from storage.models import Ticket
from storage.tickets import purge
from tests.support.fake_telegram.server import DEFAULT_TOKEN

ROOT = Path(__file__).resolve().parents[1]


async def test_sqlite_folder_is_created_on_demand(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/db/p.sqlite3")
    await ensure_schema(engine)
    assert (tmp_path / "db" / "p.sqlite3").is_file()
    await engine.dispose()


async def test_new_database_is_created_and_outdated_one_refused(database_url: str) -> None:
    engine = create_engine(database_url)
    await ensure_schema(engine)  # creates the schema
    await ensure_schema(engine)  # current: nothing to do
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    with pytest.raises(SchemaOutdated):
        await ensure_schema(engine)
    await engine.dispose()


async def test_upgrade_in_place_keeps_data(database_url: str) -> None:
    engine = create_engine(database_url)
    before, after = await upgrade(engine)
    assert before is None and after is not None
    async with sessions(engine).begin() as session:
        session.add(
            Ticket(code_hash="x" * 64, answers={"age": "adult"}, departement="75", locale="fr", script_version="v")
        )
    assert await upgrade(engine) == (after, after)
    async with sessions(engine)() as session:
        assert (await session.scalar(select(Ticket.departement))) == "75"
    await engine.dispose()


async def test_purge_deletes_tickets_past_retention(database_url: str) -> None:
    engine = create_engine(database_url)
    await upgrade(engine)
    old = dt.datetime(2026, 1, 1)
    async with sessions(engine).begin() as session:
        session.add(Ticket(code_hash="a" * 64, answers={}, locale="fr", script_version="v", created_at=old))
        session.add(Ticket(code_hash="b" * 64, answers={}, locale="fr", script_version="v"))
    async with sessions(engine).begin() as session:
        assert await purge(session, retention_days=30) == 1
    async with sessions(engine)() as session:
        assert [t.code_hash[0] for t in await session.scalars(select(Ticket))] == ["b"]
    await engine.dispose()


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BOT_TOKEN": DEFAULT_TOKEN}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_upgrade_purge_and_outdated_run(tmp_path: Path) -> None:
    assert "empty ->" in cli("db", "upgrade", cwd=tmp_path).stdout
    assert "purged 0 ticket(s)" in cli("purge", cwd=tmp_path).stdout
    database = tmp_path / "data" / "passerelle.sqlite3"

    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE alembic_version SET version_num='0000'")
    result = cli("run", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()], result.stderr
    assert "passerelle db upgrade" in result.stderr and "Traceback" not in result.stderr


async def test_instances_started_together_on_a_new_database(database_url: str) -> None:
    """Several instances behind one proxy start at once: one creates the schema and seeds
    the approved release, the others wait for it, and all of them serve."""
    if not database_url.startswith("postgresql"):
        pytest.skip("one SQLite file serves one instance: several instances need PostgreSQL")
    from bot.app import App
    from bot.config import load_settings
    from storage.models import ScriptSnapshot

    settings = load_settings(bot_token=DEFAULT_TOKEN, database_url=database_url, passerelle_secret="s" * 32)
    apps = await asyncio.gather(*(App.create(settings) for _ in range(3)))
    try:
        assert len({app.runtime.engine.version for app in apps}) == 1
        async with apps[0].runtime.db() as session:
            assert len(list(await session.scalars(select(ScriptSnapshot)))) == 1
    finally:
        for app in apps:
            await app.close()


async def test_an_instance_that_looks_while_another_creates_the_schema_waits(database_url: str) -> None:
    """The race seen when the load benchmark started instances together: one instance read
    "no schema version" just before another committed the new schema, then found tables,
    and refused to start ("database schema None is not the current …"). Here a second
    PostgreSQL client commits the schema exactly between those two reads (a SQLAlchemy
    event on the looking instance's engine lets it), and the looking instance must start."""
    if not database_url.startswith("postgresql"):
        pytest.skip("one SQLite file serves one instance: several instances need PostgreSQL")
    import threading

    from sqlalchemy import event

    created, go, committed = threading.Event(), threading.Event(), threading.Event()

    def other_instance() -> None:
        """Creates the schema under the startup lock, and commits when told (or after 1 s)."""

        async def create() -> None:
            engine = create_engine(database_url)
            try:
                async with engine.begin() as connection:
                    await one_at_a_time(connection)
                    await migrate(connection)
                    created.set()
                    await asyncio.to_thread(go.wait, 1)
            finally:
                committed.set()
                await engine.dispose()

        asyncio.run(create())

    creator = threading.Thread(target=other_instance)
    creator.start()
    looking = create_engine(database_url)

    @event.listens_for(looking.sync_engine, "before_cursor_execute")
    def commit_the_other_first(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "pg_class" in statement and "relname IN" not in statement:  # the table list, read after the version
            go.set()
            committed.wait(10)

    try:
        assert await asyncio.to_thread(created.wait, 30)  # the other instance holds the lock, schema uncommitted
        await ensure_schema(looking)
        async with looking.connect() as connection:
            assert await connection.scalar(text("SELECT version_num FROM alembic_version")) is not None
    finally:
        go.set()
        await asyncio.to_thread(creator.join, 15)
        await looking.dispose()


class DiskFull(Exception):
    """What stops a schema's creation half way: the disk full, the process killed."""


async def test_a_creation_that_failed_half_way_leaves_nothing_behind(database_url: str) -> None:
    """A first start that fails while it creates the schema must leave the database as it
    found it, so that the next start creates it. Left half made (some tables, no version),
    every start would refuse it ("database schema None is not the current …") and
    `passerelle db upgrade` would fail on the tables already there."""
    from sqlalchemy import event

    engine = create_engine(database_url)
    created: list[str] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def fail_half_way(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("CREATE TABLE"):
            created.append(statement)
            if len(created) == 4:
                raise DiskFull

    try:
        with pytest.raises(DiskFull):
            await ensure_schema(engine)
        event.remove(engine.sync_engine, "before_cursor_execute", fail_half_way)
        async with engine.connect() as connection:
            assert await connection.run_sync(lambda sync: sync.dialect.get_table_names(sync)) == []
        await ensure_schema(engine)
        await ensure_schema(engine)  # and it is current
    finally:
        await engine.dispose()
