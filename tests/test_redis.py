"""Redis as the shared state of several instances: pseudonymous, expiring, and survivable.

Runs when TEST_REDIS_URL points at a Redis server (`.ci/run` starts one); skipped, and
said so in the summary, otherwise.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiogram.fsm.storage.base import StorageKey

from bot.state import redis_storage
from bot.state.limits import OVERALL, PER_PERSON, RedisGuessLimiter
from bot.state.pseudonym import PseudonymKeyBuilder
from bot.state.redis_storage import DataOnlyRedisStorage, ReadAheadLock
from tests.support.backends import TEST_REDIS_URL, open_backend
from tests.support.stack import Stack, running_stack
from tests.support.walks import walk_to_consent

REDIS_URL = TEST_REDIS_URL
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="TEST_REDIS_URL is not set: the Redis tests were skipped")


@pytest.fixture
async def redis() -> AsyncIterator[object]:
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL or "")
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


@pytest.fixture
async def redis_stack(tmp_path: Path, captured_logs: io.StringIO, redis: object) -> AsyncIterator[Stack]:
    async with (
        open_backend("sqlite", tmp_path) as backend,
        running_stack(backend, captured_logs, redis_url=REDIS_URL) as running,
    ):
        yield running


async def test_state_in_redis_is_pseudonymous_and_expires(redis_stack: Stack, redis: object) -> None:
    user = redis_stack.user(
        7_349_218_650, first_name="Xanthippe", last_name="Quorvaldine", username="zz_hidden_handle_1"
    )
    await walk_to_consent(user, "fr", postcode="75012")
    await user.send("ABCD-EFGH-JKLM")  # a wrong code: the shared rate limit counts it
    await user.send("rue des Lilas 12")
    held = await redis_stack.state.dump()  # every key and value, as someone reading Redis sees them
    assert "fsm:" in held and "limit:guess:" in held
    for needle in (
        "7349218650",
        "Xanthippe",
        "Quorvaldine",
        "zz_hidden_handle_1",
        "75012",
        "rue des Lilas",
        "ABCD-EFGH",
    ):
        assert needle not in held, needle
    for key in await redis.keys("fsm:*"):  # type: ignore[attr-defined]  # the fixture says `object`: redis is imported only when the servers are given
        assert 0 < await redis.ttl(key) <= redis_stack.app.settings.state_ttl  # type: ignore[attr-defined]  # the fixture says `object`: redis is imported only when the servers are given
    data = [json.loads(await redis.get(k)) for k in await redis.keys("fsm:*:data")]  # type: ignore[attr-defined]  # the fixture says `object`: redis is imported only when the servers are given
    assert data and all(len(json.dumps(d)) < 1024 for d in data)


async def restart(redis: Any) -> None:
    """What the bot sees of a Redis restart without persistence: its data gone, and every
    connection dropped. Only this test's database and its connections: another test process
    (pytest-xdist) may use another database of the same server."""
    await redis.flushdb()
    db = redis.connection_pool.connection_kwargs.get("db", 0)
    for client in await redis.client_list():
        if int(client["db"]) == db:
            await redis.client_kill_filter(_id=client["id"])


async def test_redis_restarted_mid_conversation(redis_stack: Stack, redis: object) -> None:
    user = redis_stack.user()
    await user.send("/start")
    await user.press("J'ai compris")
    await restart(redis)
    await user.press("Oui, je suis en sécurité")
    text = user.last()["text"]
    assert "conversation précédente a été effacée" in text or "Choisissez votre langue" in text
    assert redis_stack.fake.refused == []


async def test_rate_limits_are_shared_between_instances(redis: object) -> None:
    one, two = RedisGuessLimiter(redis), RedisGuessLimiter(redis)
    for _ in range(PER_PERSON):
        assert await two.allowed("someone")
        await one.failed("someone")
    assert not await two.allowed("someone"), "what one instance counted, the other sees"
    for n in range(OVERALL):
        await one.failed(f"p{n}")
    assert not await two.allowed("anyone-else")


async def test_a_button_press_costs_three_round_trips(redis_stack: Stack) -> None:
    """Issue 16: at most one round trip for the person's memory, plus the lock. The lock is
    taken in the same round trip as the memory is read, then the memory is written and the
    lock released; aiogram's state key is never used (the step lives in the memory), so it
    is not read."""
    redis = redis_stack.app.dispatcher.storage.redis  # type: ignore[attr-defined]  # RedisStorage's client
    user = redis_stack.user()
    await user.send("/start")
    sent: list[str] = []
    send = redis.connection_pool.connection_class.send_packed_command

    async def counted(connection: object, command: object, *args: object, **kwargs: object) -> None:
        sent.append(repr(command)[:80])
        await send(connection, command, *args, **kwargs)

    redis.connection_pool.connection_class.send_packed_command = counted
    try:
        await user.press("J'ai compris")
    finally:
        redis.connection_pool.connection_class.send_packed_command = send
    assert len(sent) == 3, sent


def two_instances(redis: Any) -> tuple[DataOnlyRedisStorage, DataOnlyRedisStorage]:
    """Two instances' storages over one Redis: each with its own client, as two processes."""
    from redis.asyncio import Redis

    keys = PseudonymKeyBuilder(b"k" * 32)
    url = REDIS_URL or ""
    return (
        DataOnlyRedisStorage(Redis.from_url(url), key_builder=keys, data_ttl=60),
        DataOnlyRedisStorage(Redis.from_url(url), key_builder=keys, data_ttl=60),
    )


async def test_one_person_s_updates_on_two_instances_are_applied_one_after_the_other(redis: object) -> None:
    """The memory read together with the lock is only ever used by the update holding it:
    twenty updates of one person, spread over two instances and all arriving at once, each
    add one to what the previous left; none is lost."""
    storages = two_instances(redis)
    key = StorageKey(bot_id=1, chat_id=5_550_001, user_id=5_550_001)

    async def update(storage: DataOnlyRedisStorage) -> None:
        async with storage.create_isolation().lock(key):
            memory = await storage.get_data(key)
            await asyncio.sleep(0.005)  # the handler's Telegram calls
            await storage.set_data(key, {"count": memory.get("count", 0) + 1})

    try:
        await asyncio.gather(*(update(storages[n % 2]) for n in range(20)))
        assert await storages[0].get_data(key) == {"count": 20}
        assert storages[0].read_ahead == storages[1].read_ahead == {}, "nothing kept once the locks are released"
    finally:
        for storage in storages:
            await storage.close()


async def test_a_lock_left_by_a_dead_instance_or_a_lost_answer_does_not_block(redis: Any) -> None:
    """An instance that died holding a person's lock holds it until it expires, no longer;
    and an attempt Redis applied but whose answer was lost (the client tries again) holds
    the lock, rather than waiting for itself until it expires."""
    storage, _ = two_instances(redis)
    key = StorageKey(bot_id=1, chat_id=5_550_002, user_id=5_550_002)
    lock_key = storage.key_builder.build(key, "lock")
    await storage.set_data(key, {"step": "age"})
    try:
        await redis.set(lock_key, b"dead-instance", px=300)
        started = asyncio.get_running_loop().time()
        async with storage.create_isolation().lock(key):
            assert await storage.get_data(key) == {"step": "age"}
        assert 0.25 <= asyncio.get_running_loop().time() - started < 5

        await redis.set(lock_key, b"this-attempt", px=60_000)
        retried = ReadAheadLock(storage, key)
        assert await retried.do_acquire("this-attempt")
        assert retried.data is not None and json.loads(retried.data) == {"step": "age"}
        assert not await ReadAheadLock(storage, key).do_acquire("another-attempt")
    finally:
        await storage.close()


def lose_the_answer_to_the_first(command: bytes, redis: Any, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The network fault between an instance and Redis: `command` reaches Redis and is
    applied, then the connection drops before its answer arrives, and the client retries it
    (as bot.app configures it). Returns the answers lost."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    connection = redis.connection_pool.connection_class
    send, read = connection.send_packed_command, connection.read_response
    lost: list[object] = []

    async def sending(conn: Any, packed: Any, *args: Any, **kwargs: Any) -> None:
        parts = (
            [packed.encode() if isinstance(packed, str) else packed]
            if isinstance(packed, bytes | str)
            else list(packed)
        )
        conn.loses_its_answer = not lost and any(command in bytes(part) for part in parts)
        await send(conn, parts, *args, **kwargs)

    async def reading(conn: Any, *args: Any, **kwargs: Any) -> Any:
        answer = await read(conn, *args, **kwargs)
        if getattr(conn, "loses_its_answer", False):
            conn.loses_its_answer = False
            lost.append(answer)
            await conn.disconnect()
            raise RedisConnectionError("the connection dropped before the answer arrived")
        return answer

    monkeypatch.setattr(connection, "send_packed_command", sending)
    monkeypatch.setattr(connection, "read_response", reading)
    return lost


async def test_a_lock_gone_at_release_does_not_fail_the_update(
    redis_stack: Stack, redis: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """By the time its lock is released, an update's work is done and its memory saved. If
    Redis applied the release but its answer was lost, the client's retry finds the lock
    gone; if Redis restarted during the update, the lock is gone too. Neither may fail the
    update: a failed update answers 500 in webhook mode, and Telegram delivers it again, to
    be handled a second time."""
    storage = redis_stack.app.dispatcher.storage  # the bot's own client, with its retries
    assert isinstance(storage, DataOnlyRedisStorage)
    key = StorageKey(bot_id=1, chat_id=5_550_003, user_id=5_550_003)
    lock_key = storage.key_builder.build(key, "lock")

    with monkeypatch.context() as patched:
        lost = lose_the_answer_to_the_first(b"EVALSHA", storage.redis, patched)
        async with storage.create_isolation().lock(key):
            await storage.set_data(key, {"step": "age"})
        assert lost == [1], "the release was applied, and its answer lost"
    assert not await redis.exists(lock_key)
    assert await storage.get_data(key) == {"step": "age"}

    async with storage.create_isolation().lock(key):
        await restart(redis)
        await storage.set_data(key, {"step": "place"})
    assert await storage.get_data(key) == {"step": "place"}
    async with asyncio.timeout(5):  # and the next update of this person is not held up
        async with storage.create_isolation().lock(key):
            pass


async def test_an_update_slower_than_the_lock_s_lifetime_keeps_its_lock(
    redis: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lock outlives a dead instance by LOCK_SECONDS, but an update that takes longer (a
    Telegram call that times out after 60 s, then another) is alive: it keeps its lock. If
    it lost it, the person's next update would read the memory the slow one has not saved
    yet, and one of the two would be lost. LOCK_SECONDS is 1 here, to keep the test short."""
    monkeypatch.setattr(redis_storage, "LOCK_SECONDS", 1)
    storages = two_instances(redis)
    key = StorageKey(bot_id=1, chat_id=5_550_004, user_id=5_550_004)

    async def update(storage: DataOnlyRedisStorage, seconds: float) -> None:
        async with storage.create_isolation().lock(key):
            memory = await storage.get_data(key)
            await asyncio.sleep(seconds)
            await storage.set_data(key, {"count": memory.get("count", 0) + 1})

    try:
        slow = asyncio.create_task(update(storages[0], 2.5))
        await asyncio.sleep(0.2)
        await update(storages[1], 0)
        await slow
        assert await storages[0].get_data(key) == {"count": 2}, "neither update was lost"
    finally:
        for storage in storages:
            await storage.close()
