"""What a person can do on a screen, and its compact text form for button data.

The text form is channel-neutral (Telegram puts it in callback data, which holds 64
bytes at most), so the limit can be checked when a script is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

EventOp = Literal["c", "t", "d", "s", "n", "e", "b", "r"]
"""choose, toggle, done, skip, next (continue), emergency, back (resume), restart."""

_OPS: frozenset[str] = frozenset("ctdsnebr")
MAX_DATA_BYTES = 64


@dataclass(frozen=True, slots=True)
class Event:
    """A button press. `node` is the node the button was shown on."""

    op: EventOp
    node: str = ""
    option: str = ""

    def encode(self, version: str) -> str:
        """`version:op:node:option`, where version is the script's short hash."""
        return f"{version}:{self.op}:{self.node}:{self.option}"


@dataclass(frozen=True, slots=True)
class TextInput:
    """Typed text for an input node. It is parsed, then dropped: never stored."""

    text: str


@dataclass(frozen=True, slots=True)
class LocationInput:
    """A shared location, used once to find a place, then dropped."""

    latitude: float
    longitude: float


class BadEventData(ValueError):
    """Button data that no version of our scripts could have produced."""


def decode(data: str) -> tuple[str, Event]:
    """Parse button data into (version, event); raise BadEventData when forged."""
    parts = data.split(":")
    if len(parts) != 4 or parts[1] not in _OPS or len(data.encode()) > MAX_DATA_BYTES:
        raise BadEventData("unrecognised button data")
    version, op, node, option = parts
    return version, Event(op=cast("EventOp", op), node=node, option=option)  # checked against _OPS above


def try_decode(data: str) -> tuple[str, Event] | None:
    """`decode`, with None for data that is not a script button's (another kind of button, or forged)."""
    try:
        return decode(data)
    except BadEventData:
        return None
