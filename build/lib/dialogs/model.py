"""The script schema: what moderators write in YAML, validated into pydantic models.

Every text in a script is a French source string (a gettext msgid). Ids are short and
ASCII because they travel inside Telegram callback data (64 bytes at most).
"""

from __future__ import annotations

from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ID_PATTERN = r"^[a-z0-9_]{1,32}$"
"""Node and option ids: lowercase ASCII. Their sum must fit callback data: checked at load."""

NodeKind = Literal["choice", "multi", "input", "info", "route", "action"]
ActionKind = Literal["emergency", "handoff", "end"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Option(_Strict):
    """A button. `value` is the coded answer stored (defaults to the id)."""

    id: str = Field(pattern=ID_PATTERN)
    label: str = Field(min_length=1)
    next: str | None = None
    value: str | None = None

    @property
    def code(self) -> str:
        return self.value or self.id


class Route(_Strict):
    """One branch of a route node: taken when every answer in `when` matches.

    An empty `when` is the fallback branch.
    """

    when: dict[str, str | list[str]] = Field(default_factory=dict)
    next: str

    def matches(self, answers: dict[str, str | list[str]]) -> bool:
        for key, expected in self.when.items():
            wanted = {expected} if isinstance(expected, str) else set(expected)
            got = answers.get(key)
            have = {got} if isinstance(got, str) else set(got or ())
            if not wanted & have:
                return False
        return True


class Node(_Strict):
    """A screen (or an invisible route) of the conversation."""

    id: str = Field(pattern=ID_PATTERN)
    kind: NodeKind
    text: str | None = None
    comment: str | None = None
    """A note for translators, copied into the catalogues."""
    store: str | None = Field(default=None, pattern=ID_PATTERN)
    """The answer key this node writes (choice, multi, input)."""
    options: tuple[Option, ...] = ()
    next: str | None = None
    """Where info, multi and input nodes go on."""
    continue_label: str | None = None
    """The label of the button that follows `next` (info, multi)."""
    parser: str | None = None
    """Input nodes: the named parser that turns typed text into a coded value."""
    error: str | None = None
    """Input nodes: what to say when the parser does not understand."""
    accepts_location: bool = False
    """Input nodes: whether a shared location is a valid answer."""
    skip: Option | None = None
    """Input nodes: an optional button that moves on without an answer."""
    ambiguous: str | None = None
    """Input nodes: the question asked when the answer matches several places."""
    routes: tuple[Route, ...] = ()
    action: ActionKind | None = None
    summary: str | None = None
    """A short label for this answer on the consent summary (choice, multi, input)."""
    show_summary: bool = False
    """Show the summary of every labelled answer above this node's text (consent)."""

    @field_validator("text", "continue_label", "error", "summary", "comment", "ambiguous")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return value.strip() if value is not None else None

    def targets(self) -> list[str]:
        """Every node this one can lead to, for reachability and reference checks."""
        found = [o.next for o in self.options if o.next]
        found += [r.next for r in self.routes]
        if self.next:
            found.append(self.next)
        if self.skip and self.skip.next:
            found.append(self.skip.next)
        return found


class Labels(_Strict):
    """Texts the engine adds around the script's own nodes."""

    back: str = "Retour"
    next: str = "Continuer"
    done: str = "Valider"
    restart: str = "Recommencer"
    selected_mark: str = "✓"


class Script(_Strict):
    """A whole dialogue script."""

    id: str = Field(pattern=ID_PATTERN)
    title: str
    start: str
    emergency: str
    """The node shown by the emergency button present on every screen."""
    labels: Labels = Labels()
    flags: dict[str, dict[str, str | list[str]]] = Field(default_factory=dict)
    """Named conditions on the answers that the channel acts on (for example `minor`)."""
    nodes: tuple[Node, ...]

    def flag(self, name: str, answers: dict[str, str | list[str]]) -> bool:
        """Whether the answers meet flag `name` (same matching as route branches)."""
        when = self.flags.get(name)
        return when is not None and Route(when=when, next="").matches(answers)

    @cached_property
    def index(self) -> dict[str, Node]:
        return {n.id: n for n in self.nodes}

    def node(self, node_id: str) -> Node:
        return self.index[node_id]
