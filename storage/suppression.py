"""What a published table of counts may show: small counts hidden, and hidden for good.

Primary suppression: a count from 1 to `minimum - 1` shows as "< minimum" (a count of 0
shows: it describes nobody). Complementary suppression: when a table's total is shown,
the smallest other counts are hidden too, until at least two are hidden and the hidden
ones add up to `minimum` or more, so the total minus the visible counts gives a sum of
several, itself not small, and never one hidden count, even knowing that "< 5" is 1 to 4
and "masqué" 5 or more; when hiding every count is not enough, the total is hidden too. Pure: no database here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

SECONDARY_TEXT = "masqué"
"""How a count hidden only to protect another one shows."""

Hidden = Literal["", "small", "complement"]


@dataclass(frozen=True, slots=True)
class Cell:
    label: str
    value: int
    """The true count: never written anywhere when `hidden`."""
    hidden: Hidden = ""

    def shown(self, minimum: int) -> str:
        if self.hidden == "small":
            return f"< {minimum}"
        if self.hidden == "complement":
            return SECONDARY_TEXT
        return str(self.value)

    @property
    def visible(self) -> int | None:
        return None if self.hidden else self.value


def is_small(value: int, minimum: int) -> bool:
    return 0 < value < minimum


def suppress(values: Mapping[str, int], minimum: int, total: int | None = None) -> tuple[list[Cell], Cell | None]:
    """The table's cells, in the order given, and its total (None when it has none).

    `total` is what the cells add up to, when the table publishes it: then complementary
    suppression applies. A total under `minimum` is hidden, and so is every cell under it.
    """
    hidden: dict[str, Hidden] = {label: "small" for label, value in values.items() if is_small(value, minimum)}
    total_cell = None
    if total is not None:
        total_cell = Cell("total", total, "small" if is_small(total, minimum) else "")
        if hidden and not total_cell.hidden:
            others = sorted((v, label) for label, v in values.items() if v > 0 and label not in hidden)
            while others and (
                len(hidden) < 2
                or sum(values[label] for label in hidden) < minimum
                or _worked_out(hidden, values, minimum)
            ):
                hidden[others.pop(0)[1]] = "complement"
            if _worked_out(hidden, values, minimum):  # nothing left to hide: the total would give them
                total_cell = Cell("total", total, "complement")
    return [Cell(label, value, hidden.get(label, "")) for label, value in values.items()], total_cell


def _worked_out(hidden: Mapping[str, Hidden], values: Mapping[str, int], minimum: int) -> bool:
    """Whether the hidden counts' sum and the rule ("< 5" is 1 to 4, "masqué" 5 or more)
    leave some hidden count only one possible value: 5 "masqué" + 1 "< 5" = 6, or 4 + 4 = 8."""
    residue = sum(values[label] for label in hidden)
    floor = {label: 1 if kind == "small" else minimum for label, kind in hidden.items()}
    cap = {label: minimum - 1 if kind == "small" else math.inf for label, kind in hidden.items()}
    for label in hidden:
        low = max(floor[label], residue - sum(cap[o] for o in hidden if o != label))
        high = min(cap[label], residue - sum(floor[o] for o in hidden if o != label))
        if low >= high:
            return True
    return False
