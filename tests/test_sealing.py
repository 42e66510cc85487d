"""The seal that keeps a ticket's code in the state: it opens only under its own key."""

from __future__ import annotations

import base64

from aiogram.fsm.storage.base import StorageKey

from bot.state.memory import Memory
from bot.state.pseudonym import PseudonymKeyBuilder
from bot.state.sealing import seal, unseal

KEY = bytes(range(32))
CODE = "ABCD-EFGH-JKMN"


def test_a_seal_opens_under_its_key_only() -> None:
    sealed = seal(KEY, CODE + "|test-paris test-nord")
    assert unseal(KEY, sealed) == CODE + "|test-paris test-nord"
    assert CODE not in sealed and "ABCDEFGHJKMN" not in sealed
    assert unseal(bytes(32), sealed) is None
    assert seal(KEY, CODE) != seal(KEY, CODE), "a fresh nonce each time: equal codes do not look equal"
    assert unseal(KEY, "x" * 60) is None and unseal(KEY, "") is None and unseal(KEY, "é") is None


def test_any_change_to_a_seal_is_refused() -> None:
    raw = bytearray(base64.urlsafe_b64decode(seal(KEY, CODE) + "=="))
    for position in range(len(raw)):
        altered = bytearray(raw)
        altered[position] ^= 1
        assert unseal(KEY, base64.urlsafe_b64encode(bytes(altered)).decode().rstrip("=")) is None
    long = "x" * 500
    assert unseal(KEY, seal(KEY, long)) == long, "more than one keystream block"


def test_the_seal_key_is_neither_the_pseudonym_nor_shared_between_people() -> None:
    keys = PseudonymKeyBuilder(b"s" * 32)
    one, two = StorageKey(bot_id=1, chat_id=10, user_id=10), StorageKey(bot_id=1, chat_id=11, user_id=11)
    assert keys.seal_key(one) != keys.seal_key(two)
    assert keys.seal_key(one).hex()[:32] != keys.pseudonym(one)
    assert PseudonymKeyBuilder(b"t" * 32).seal_key(one) != keys.seal_key(one)


def test_the_session_never_writes_the_code_in_clear() -> None:
    session = Memory(locale="fr")
    session.unlock(lambda: KEY)
    session.ticket = CODE
    session.skip = ("test-paris",)
    data = session.to_data()
    assert CODE not in str(data) and "test-paris" not in str(data)
    again = Memory.from_data(data)
    assert again.unlock(lambda: KEY) and again.ticket == CODE and again.skip == ("test-paris",)
    assert again.to_data() == data, "unchanged: not resealed, so not rewritten"
    stolen = Memory.from_data(data)
    assert not stolen.unlock(lambda: bytes(32)) and stolen.ticket is None and "t" not in stolen.to_data()
    old = Memory.from_data({"l": "fr", "t": CODE})  # written before the code was sealed
    assert old.unlock(lambda: KEY) and old.ticket == CODE and CODE not in str(old.to_data())


def test_a_session_that_was_not_unlocked_refuses_to_store_a_code() -> None:
    session = Memory()
    session.ticket = CODE
    try:
        session.to_data()
    except RuntimeError:
        return
    raise AssertionError("a code was stored without its seal")


def test_setting_the_same_code_again_does_not_rewrite_the_state() -> None:
    session = Memory()
    session.unlock(lambda: KEY)
    session.ticket = CODE
    first = session.to_data()
    session.ticket = CODE
    session.skip = ()
    assert session.to_data() == first
