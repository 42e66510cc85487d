"""Every filter and handler the dispatcher runs is awaited on the event loop.

aiogram runs any other callable in a worker thread (`asyncio.to_thread`), a thread hop
per filter tried per update; `bot.filters.OnLoop` exists to avoid that. This test fails
as soon as a plain `F.…` filter or a sync handler is added to a router.
"""

from __future__ import annotations

from aiogram import F, Router

from bot.app import build_dispatcher
from bot.filters import OnLoop
from tests.support.stack import Stack


def thread_hops(router: Router) -> list[str]:
    found = []
    for routed in router.chain_tail:
        for name, observer in routed.observers.items():
            for handler in observer.handlers:
                if not handler.awaitable:
                    found.append(f"{routed.name}.{name}: handler {handler.callback!r}")
                found.extend(
                    f"{routed.name}.{name}: filter {filter_.magic or filter_.callback!r}"
                    for filter_ in [*(handler.filters or []), *(observer._handler.filters or [])]
                    if not filter_.awaitable
                )
    return found


async def test_no_filter_or_handler_runs_in_a_thread(stack: Stack) -> None:
    dispatcher = build_dispatcher(stack.app.runtime)
    assert thread_hops(dispatcher) == []


def test_the_check_sees_a_plain_magic_filter() -> None:
    router = Router(name="probe")

    @router.message(F.text == "x")
    async def probe(_message: object) -> None: ...

    @router.message(OnLoop(F.text == "y"))
    async def fine(_message: object) -> None: ...

    assert len(thread_hops(router)) == 1
