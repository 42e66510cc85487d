"""The dialogue engine: `(state, input) -> (new state, screen)`, and nothing else.

It never sees who is talking, never keeps typed text, and never translates: a screen
holds msgids that the channel translates and renders.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from dialogs.events import Event, EventOp, LocationInput, TextInput
from dialogs.model import ActionKind, Node, Script

Answers = dict[str, str | list[str]]
Outcome = Literal["ok", "stale", "not_understood", "unexpected_text", "unexpected_location"]
MAX_ROUTE_HOPS = 32


class State(BaseModel):
    """Everything kept about a conversation: small, JSON, and free of identity."""

    model_config = ConfigDict(extra="ignore")

    script: str
    version: str
    node: str
    answers: Answers = {}
    overlay: bool = False
    """True while the emergency screen is shown over the current node."""
    pending: list[str] = []
    """Coded values an ambiguous answer could mean, offered as buttons (never the typed text)."""


Choices = tuple[tuple[str, str], ...]
"""(coded value, label) pairs when an answer could mean several things."""


class Parser(Protocol):
    """Turns what a person typed or shared into a coded value, several choices, or None."""

    def parse_text(self, text: str) -> str | Choices | None: ...

    def parse_location(self, latitude: float, longitude: float) -> str | None: ...

    def label(self, code: str) -> str: ...

    def hint(self, code: str) -> tuple[str, str] | None:
        """(kind, value) the channel words after a choice's label, so a person recognises it."""
        ...


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    """A msgid, or a plain value when `translate` is False."""
    event: Event
    selected: bool = False
    hint: tuple[str, str] | None = None
    """For a choice between typed answers: the parser's `hint`, worded by the channel."""


@dataclass(frozen=True, slots=True)
class SummaryLine:
    label: str
    store: str
    """The answer key it shows."""
    values: tuple[str, ...]
    """msgids of the chosen options, or coded values for typed answers."""
    translate_values: bool = True


@dataclass(frozen=True, slots=True)
class Screen:
    node: str
    text: str | None
    rows: tuple[tuple[Button, ...], ...] = ()
    action: ActionKind | None = None
    expects_text: bool = False
    overlay: bool = False
    shows_summary: bool = False
    """The consent screen: the channel shows everything the notice would carry, worded from
    `Engine.summary` like the notice itself (one wording, in bot.handoff)."""
    is_emergency: bool = False


@dataclass(frozen=True, slots=True)
class Step:
    state: State
    screen: Screen
    outcome: Outcome = "ok"
    notice: str | None = None
    """A msgid to show before the screen, e.g. why typed text was not understood."""


class Engine:
    """Interprets one validated script version."""

    def __init__(self, script: Script, version: str, parsers: Mapping[str, Parser]) -> None:
        self.script = script
        self.version = version
        self.parsers = parsers

    # -- entry points ---------------------------------------------------------

    def start(self) -> Step:
        state = self._enter(State(script=self.script.id, version=self.version, node=""), self.script.start)
        return Step(state, self.render(state))

    def handle(self, state: State, event: Event | TextInput | LocationInput) -> Step:
        """Apply one input. Stale or invalid input leaves the state as it was."""
        if isinstance(event, TextInput):
            return self._text(state, event)
        if isinstance(event, LocationInput):
            return self._location(state, event)
        return self._event(state, event)

    def render(self, state: State) -> Screen:
        if state.overlay:
            return self._emergency_overlay(state)
        return self._screen(self.script.node(state.node), state.answers, state.pending)

    # -- transitions ----------------------------------------------------------

    def _event(self, state: State, event: Event) -> Step:
        if event.op == EventOp.RESTART:
            return self.start()
        if event.op == EventOp.EMERGENCY:
            new = state.model_copy(update={"overlay": state.node != self.script.emergency})
            return Step(new, self.render(new))
        if event.op == EventOp.BACK:
            new = state.model_copy(update={"overlay": False})
            return Step(new, self.render(new))
        node = self.script.index.get(event.node)
        if state.overlay or node is None or node.id != state.node:
            return self._stale(state)
        if event.op == EventOp.CHOOSE and node.kind == "input" and event.option.startswith("="):
            code = event.option[1:]
            if code not in state.pending or node.next is None:
                return self._stale(state)
            return self._go(state, self._store(state.answers, node, code), node.next)
        if event.op == EventOp.CHOOSE and node.kind == "choice":
            option = next((o for o in node.options if o.id == event.option), None)
            if option is None or option.next is None:
                return self._stale(state)
            answers = self._store(state.answers, node, option.code)
            return self._go(state, answers, option.next)
        if event.op == EventOp.TOGGLE and node.kind == "multi":
            option = next((o for o in node.options if o.id == event.option), None)
            if option is None or node.store is None:
                return self._stale(state)
            chosen = list(state.answers.get(node.store, []))
            if option.code in chosen:
                chosen.remove(option.code)
            else:
                chosen.append(option.code)
            order = [o.code for o in node.options]
            chosen.sort(key=order.index)
            new = state.model_copy(update={"answers": {**state.answers, node.store: chosen}})
            return Step(new, self.render(new))
        if event.op == EventOp.DONE and node.kind == "multi" and node.next:
            return self._go(state, state.answers, node.next)
        if event.op == EventOp.NEXT and node.kind == "info" and node.next:
            return self._go(state, state.answers, node.next)
        if event.op == EventOp.SKIP and node.kind == "input" and node.skip and node.skip.next:
            answers = {k: v for k, v in state.answers.items() if k != node.store}
            return self._go(state, answers, node.skip.next)
        return self._stale(state)

    def _text(self, state: State, typed: TextInput) -> Step:
        node = self.script.node(state.node)
        if state.overlay or node.kind != "input" or node.parser is None:
            return Step(state, self.render(state), "unexpected_text")
        value = self.parsers[node.parser].parse_text(typed.text)
        return self._answer(state, node, value)

    def _location(self, state: State, shared: LocationInput) -> Step:
        node = self.script.node(state.node)
        if state.overlay or node.kind != "input" or not node.accepts_location or node.parser is None:
            return Step(state, self.render(state), "unexpected_location")
        value = self.parsers[node.parser].parse_location(shared.latitude, shared.longitude)
        return self._answer(state, node, value)

    def _answer(self, state: State, node: Node, value: str | Choices | None) -> Step:
        if isinstance(value, tuple) and value:
            new = state.model_copy(update={"pending": [code for code, _ in value]})
            return Step(new, self.render(new))
        if not isinstance(value, str) or node.next is None:
            return Step(state, self.render(state), "not_understood", notice=node.error)
        return self._go(state, self._store(state.answers, node, value), node.next)

    def _stale(self, state: State) -> Step:
        return Step(state, self.render(state), "stale")

    def _go(self, state: State, answers: Answers, target: str) -> Step:
        new = self._enter(state.model_copy(update={"answers": answers, "overlay": False, "pending": []}), target)
        return Step(new, self.render(new))

    def _enter(self, state: State, target: str) -> State:
        """Move to `target`, following route nodes, which are never shown."""
        for _ in range(MAX_ROUTE_HOPS):
            node = self.script.node(target)
            if node.kind != "route":
                return state.model_copy(update={"node": target})
            target = next(r.next for r in node.routes if r.matches(state.answers))
        raise RuntimeError(f"route loop in script {self.script.id!r} at {target!r}")

    @staticmethod
    def _store(answers: Answers, node: Node, value: str) -> Answers:
        return {**answers, node.store: value} if node.store else answers

    # -- screens --------------------------------------------------------------

    def _screen(self, node: Node, answers: Answers, pending: list[str] | None = None) -> Screen:
        rows: list[tuple[Button, ...]] = []
        if node.kind == "choice":
            rows = [(Button(o.label, Event(EventOp.CHOOSE, node.id, o.id)),) for o in node.options]
        elif node.kind == "multi":
            chosen = answers.get(node.store or "", [])
            rows = [
                (Button(o.label, Event(EventOp.TOGGLE, node.id, o.id), selected=o.code in chosen),)
                for o in node.options
            ]
            rows.append((Button(node.continue_label or self.script.labels.done, Event(EventOp.DONE, node.id)),))
        elif node.kind == "info" and node.next:
            rows = [(Button(node.continue_label or self.script.labels.next, Event(EventOp.NEXT, node.id)),)]
        elif node.kind == "input" and pending:
            parser = self.parsers[node.parser or ""]
            choose = [(code, Event(EventOp.CHOOSE, node.id, "=" + code)) for code in pending]
            rows = [(Button(parser.label(code), event, hint=parser.hint(code)),) for code, event in choose]
        elif node.kind == "input" and node.skip:
            rows = [(Button(node.skip.label, Event(EventOp.SKIP, node.id, node.skip.id)),)]
        elif node.kind == "action" and node.action != "emergency":
            rows = [(Button(self.script.labels.restart, Event(EventOp.RESTART)),)]
        return Screen(
            node=node.id,
            text=node.ambiguous if pending and node.ambiguous else node.text,
            rows=tuple(rows),
            action=node.action,
            expects_text=node.kind == "input",
            shows_summary=node.show_summary,
            is_emergency=node.id == self.script.emergency,
        )

    def _emergency_overlay(self, state: State) -> Screen:
        node = self.script.node(self.script.emergency)
        back = Button(self.script.labels.back, Event(EventOp.BACK))
        return Screen(node=node.id, text=node.text, rows=((back,),), overlay=True, is_emergency=True)

    def summary(self, answers: Answers) -> tuple[SummaryLine, ...]:
        """Every labelled answer, in script order, as msgids and coded values: the one list the
        consent screen and the notice are both worded from. Translating and punctuating it is
        the channel's job."""
        lines: list[SummaryLine] = []
        for node in self.script.nodes:
            if not (node.summary and node.store and node.store in answers):
                continue
            given = answers[node.store]
            codes = [given] if isinstance(given, str) else given
            labels = {o.code: o.label for o in node.options}
            if node.kind == "input":
                parser = self.parsers.get(node.parser or "")
                shown = tuple(parser.label(c) if parser else c for c in codes)
                lines.append(SummaryLine(node.summary, node.store, shown, translate_values=False))
            else:
                lines.append(SummaryLine(node.summary, node.store, tuple(labels[c] for c in codes if c in labels)))
        return tuple(lines)
