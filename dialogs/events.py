"""What a person can do on a screen, and its compact text form for button data.

The text form is channel-neutral (Telegram puts it in callback data, which holds 64
bytes at most), so the limit can be checked when a script is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

MAX_DATA_BYTES = 64


class EventOp(StrEnum):
    """What a script button does; the value is its one-letter code in button data."""

    CHOOSE = "c"
    TOGGLE = "t"
    DONE = "d"
    SKIP = "s"
    NEXT = "n"
    """Continue, on an information screen."""
    EMERGENCY = "e"
    BACK = "b"
    """Back from the emergency screen: resume where the person was."""
    RESTART = "r"


_OPS: dict[str, EventOp] = {op.value: op for op in EventOp}


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
    op = _OPS.get(parts[1]) if len(parts) == 4 else None
    if op is None or len(data.encode()) > MAX_DATA_BYTES:
        raise BadEventData("unrecognised button data")
    version, _op, node, option = parts
    return version, Event(op=op, node=node, option=option)


def try_decode(data: str) -> tuple[str, Event] | None:
    """`decode`, with None for data that is not a script button's (another kind of button, or forged)."""
    try:
        return decode(data)
    except BadEventData:
        return None
