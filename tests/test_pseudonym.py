"""The FSM storage: keyed by HMAC, expiring, bounded; and the per-person lock table."""

from __future__ import annotations

import asyncio

from aiogram.fsm.storage.base import StorageKey

from bot.state.pseudonym import PseudonymEventIsolation, PseudonymKeyBuilder, PseudonymousMemoryStorage


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def key(user_id: int) -> StorageKey:
    return StorageKey(bot_id=1, chat_id=user_id, user_id=user_id)


def test_keys_are_hmacs_not_hashes() -> None:
    one = PseudonymKeyBuilder(b"a" * 32).build(key(123456789))
    other_secret = PseudonymKeyBuilder(b"b" * 32).build(key(123456789))
    assert "123456789" not in one
    assert one != other_secret, "without the secret, the key cannot be recomputed from an id"
    assert one == PseudonymKeyBuilder(b"a" * 32).build(key(123456789)), "stable for one secret"
    assert one != PseudonymKeyBuilder(b"a" * 32).build(key(123456780))


def test_the_last_pseudonym_is_remembered_only_while_its_key_lives() -> None:
    builder = PseudonymKeyBuilder(b"a" * 32)
    first = key(123456789)
    assert builder.pseudonym(first) == builder.pseudonym(first)
    assert builder.pseudonym(key(123456780)) != builder.pseudonym(first), "another person, another pseudonym"
    assert builder._last is not None and builder._last[0]() is first
    del first
    assert builder._last[0]() is None, "no Telegram id is held once its update is over"


async def test_state_expires_after_idle_ttl() -> None:
    clock = Clock()
    storage = PseudonymousMemoryStorage(PseudonymKeyBuilder(b"s" * 32), ttl=60, clock=clock)
    await storage.set_data(key(1), {"l": "fr"})
    clock.now += 59
    assert await storage.get_data(key(1)) == {"l": "fr"}
    await storage.set_data(key(1), {"l": "en"})  # activity renews the TTL
    clock.now += 59
    assert await storage.get_data(key(1)) == {"l": "en"}
    clock.now += 61
    assert await storage.get_data(key(1)) == {}


async def test_expired_records_are_evicted_on_write() -> None:
    clock = Clock()
    storage = PseudonymousMemoryStorage(PseudonymKeyBuilder(b"s" * 32), ttl=60, clock=clock)
    for n in range(100):
        await storage.set_data(key(n), {"n": n})
    clock.now += 61
    await storage.set_data(key(1000), {"n": 1000})
    assert storage.count() == 1


async def test_empty_data_frees_the_record() -> None:
    storage = PseudonymousMemoryStorage(PseudonymKeyBuilder(b"s" * 32), ttl=60)
    await storage.set_data(key(1), {"l": "fr"})
    await storage.set_data(key(1), {})
    assert storage.count() == 0
    assert bool(storage), "aiogram replaces a falsy storage by its own MemoryStorage"


async def test_isolation_serialises_one_person_and_prunes_locks() -> None:
    isolation = PseudonymEventIsolation(PseudonymKeyBuilder(b"s" * 32))
    order: list[str] = []

    async def turn(name: str, user_id: int, delay: float) -> None:
        async with isolation.lock(key(user_id)):
            order.append(f"{name}>")
            await asyncio.sleep(delay)
            order.append(f"<{name}")

    await asyncio.gather(turn("a1", 1, 0.02), turn("a2", 1, 0), turn("b", 2, 0))
    assert order.index("<a1") < order.index("a2>"), "same person: one at a time"
    assert order.index("b>") < order.index("<a1"), "another person is not held up"
    assert isolation._locks == {}  # noqa: SLF001


async def test_closing_the_isolation_while_an_update_holds_its_lock_is_harmless() -> None:
    """At shutdown aiogram closes the isolation while the last handlers may still run."""
    isolation = PseudonymEventIsolation(PseudonymKeyBuilder(b"s" * 32))
    async with isolation.lock(key(1)):
        await isolation.close()
    async with isolation.lock(key(1)):  # and it still works afterwards
        pass
    assert isolation._locks == {}
