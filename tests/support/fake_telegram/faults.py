"""Failures a test schedules: Telegram's errors, dropped connections, slow answers."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from tests.support.fake_telegram.errors import DEFAULT_DESCRIPTIONS, TelegramError
from tests.support.fake_telegram.spec import JSON, ApiSpec


@dataclass(slots=True)
class Fault:
    """A failure scheduled by ``fail_next``/``drop_next``."""

    error: TelegramError | None  # None: drop the connection
    after_processing: bool = False
    chat_id: int | None = None  # only calls to this chat (None: any call)


class Faults:
    """Fault injection, per method (and per chat): part of ``FakeTelegram``, which sets up the state."""

    spec: ApiSpec
    _faults: dict[str, deque[Fault]]
    _delays: dict[str, deque[float]]
    delayed: list[str]

    def fail_next(
        self,
        method: str,
        *,
        error_code: int = 429,
        retry_after: int = 1,
        description: str | None = None,
        times: int = 1,
        chat_id: int | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with ``error_code``; with
        ``chat_id``, only calls to that chat (Telegram limits the rate per chat, too).

        429 carries ``parameters.retry_after``; default descriptions are Telegram's
        ("Too Many Requests: retry after N", "Internal Server Error", "Bad Gateway",
        "Forbidden: bot was blocked by the user"). With ``chat_id``, only calls to that
        chat fail; calls to other chats go through untouched.
        """
        if description is None:
            if error_code == 429:
                description = f"Too Many Requests: retry after {retry_after}"
            else:
                description = DEFAULT_DESCRIPTIONS.get(error_code, "Error")
        error = TelegramError(error_code, description, retry_after if error_code == 429 else None)
        self._schedule(method, Fault(error, chat_id=chat_id), times)

    def clear_faults(self, method: str) -> None:
        """Forget the failures still scheduled for ``method`` (the outage is over)."""
        self._faults.pop(method, None)

    def drop_next(
        self, method: str, times: int = 1, *, after_processing: bool = False, chat_id: int | None = None
    ) -> None:
        """Close the connection on the next ``times`` calls of ``method`` (to ``chat_id`` only,
        when given), without answering.

        ``after_processing=True`` drops the answer after the call took effect (the message
        is sent, but the bot sees a network error), to test retries for duplicates.
        """
        self._schedule(method, Fault(None, after_processing, chat_id), times)

    def delay_next(self, method: str, seconds: float, times: int = 1) -> None:
        """Hold the answer to the next ``times`` calls of ``method`` for ``seconds`` (the call
        takes effect after the delay); each one is added to ``delayed`` as it starts waiting."""
        spec = self.spec.method(method)
        if spec is None:
            raise ValueError(f"{method!r} is not a Bot API method")
        self._delays.setdefault(spec.name, deque()).extend([seconds] * times)

    def _take_fault(self, name: str, params: JSON) -> Fault | None:
        """The first fault scheduled for this call, if any, taken off the queue."""
        faults = self._faults.get(name)
        for fault in faults or ():
            if fault.chat_id is None or str(fault.chat_id) == str(params.get("chat_id")):
                faults.remove(fault)  # type: ignore[union-attr]  # the fault list exists: the fault was found in it
                return fault
        return None

    def _schedule(self, method: str, fault: Fault, times: int) -> None:
        spec = self.spec.method(method)
        if spec is None:
            raise ValueError(f"{method!r} is not a Bot API method")
        self._faults.setdefault(spec.name, deque()).extend([fault] * times)
