"""Loading a script file: YAML -> pydantic model -> checks that moderators can act on.

Every problem names the file and the node, so a moderator knows where to look.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from dialogs.engine import Engine, Parser
from dialogs.events import MAX_DATA_BYTES, Event, EventOp
from dialogs.model import Node, Script
from dialogs.telegram_text import MESSAGE_LIMIT as MAX_TEXT
from dialogs.telegram_text import fits

SCRIPTS_DIR = Path(__file__).resolve().parent / "scripts"
ORIENTATION = SCRIPTS_DIR / "orientation.yaml"
"""The script a person starts with."""
SHORT_HASH = 8
PARSER_NAMES: frozenset[str] = frozenset({"place"})
"""The parsers every channel provides; a script may name only these."""


@dataclass(frozen=True)
class Problem:
    file: str
    node: str | None
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.file}" + (f" [{self.node}]" if self.node else "")
        return f"{where}: {self.message}" + (f" (fix: {self.hint})" if self.hint else "")


class Invalid(Exception):
    """Something moderators must fix before it can be served: every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


class ScriptInvalid(Invalid):
    """A script that does not load or does not validate."""


@dataclass(frozen=True)
class LoadedScript:
    script: Script
    path: Path
    digest: str
    """Content hash (sha256 hex) of the validated script: its version."""

    @property
    def version(self) -> str:
        return self.digest[:SHORT_HASH]

    def engine(self, parsers: Mapping[str, Parser]) -> Engine:
        """An engine for this version, with the channel's parsers (for example "place")."""
        return Engine(self.script, self.version, parsers)


def script_digest(script: Script) -> str:
    """Hash of the content, not of the file, so re-indenting YAML is not a new version."""
    return hashlib.sha256(script.model_dump_json().encode()).hexdigest()


def load_script(path: Path) -> LoadedScript:
    """Parse and check one script; raise ScriptInvalid listing every problem found."""
    return parse_script(path.read_text(encoding="utf-8"), path.name, path)


def parse_script(source: str, name: str, path: Path | None = None) -> LoadedScript:
    try:
        raw = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark else ""
        raise ScriptInvalid([Problem(name, None, f"YAML syntax error{line}", "check indentation and quotes")]) from None
    if not isinstance(raw, dict):
        raise ScriptInvalid([Problem(name, None, "a script must be a YAML mapping", "start with 'id:'")])
    problems = list(_duplicate_ids(name, raw))
    try:
        script = Script.model_validate(raw)
    except ValidationError as exc:
        problems += [_schema_problem(name, raw, err) for err in exc.errors()]
        raise ScriptInvalid(problems) from None
    digest = script_digest(script)
    problems += check_script(script, name, digest[:SHORT_HASH])
    if problems:
        raise ScriptInvalid(problems)
    return LoadedScript(script, path or Path(name), digest)


def _duplicate_ids(name: str, raw: dict[str, Any]) -> Iterable[Problem]:
    seen: set[object] = set()  # ids as written: a missing or non-string one is checked by the schema
    for node in raw.get("nodes") or ():
        node_id = node.get("id") if isinstance(node, dict) else None
        if node_id in seen:
            yield Problem(name, node_id, "duplicate node id", "give each node its own id")
        seen.add(node_id)


def _schema_problem(name: str, raw: dict[str, Any], err: ErrorDetails) -> Problem:
    loc = list(err["loc"])
    node = None
    if len(loc) >= 2 and loc[0] == "nodes" and isinstance(loc[1], int):
        try:
            node = raw["nodes"][loc[1]].get("id")
        except (AttributeError, IndexError, KeyError, TypeError):
            node = None
        loc = loc[2:]
    field = ".".join(str(part) for part in loc) or "(node)"
    return Problem(name, node, f"{field}: {err['msg']}", "see dialogs/model.py for the schema")


def check_script(script: Script, name: str, version: str, parsers: frozenset[str] = PARSER_NAMES) -> list[Problem]:
    """The checks pydantic cannot express: references, reachability, dead ends, limits."""
    problems: list[Problem] = []
    index = script.index
    for ref, what in ((script.start, "start"), (script.emergency, "emergency")):
        if ref not in index:
            problems.append(Problem(name, None, f"{what} names unknown node {ref!r}", "use an existing node id"))
    for node in script.nodes:
        problems += [Problem(name, node.id, msg, hint) for msg, hint in _node_problems(node, parsers)]
        for target in node.targets():
            if target not in index:
                problems.append(Problem(name, node.id, f"leads to unknown node {target!r}", "fix the 'next' id"))
        for button in _buttons(node, script):
            if len(button.encode(version).encode()) > MAX_DATA_BYTES:
                problems.append(
                    Problem(name, node.id, f"button data over {MAX_DATA_BYTES} bytes", "shorten the node or option id")
                )
        if node.text and not fits(node.text, MAX_TEXT):
            problems.append(Problem(name, node.id, f"text over {MAX_TEXT} characters", "split it into two nodes"))
    if problems:
        return problems
    reachable = _reachable(script, {script.start, script.emergency})
    for node in script.nodes:
        if node.id not in reachable:
            problems.append(Problem(name, node.id, "unreachable node", "link to it or delete it"))
    finishing = _can_finish(script)
    for node in script.nodes:
        if node.id in reachable and node.id not in finishing:
            problems.append(Problem(name, node.id, "dead end: no way on to an ending", "add an option or 'next'"))
    return problems


def _node_problems(node: Node, parsers: frozenset[str]) -> Iterable[tuple[str, str]]:
    if node.kind != "route" and not node.text:
        yield "a shown node needs a text", "add 'text:'"
    ids = [o.id for o in node.options]
    if len(ids) != len(set(ids)):
        yield "duplicate option id", "give each option its own id"
    if node.kind == "choice":
        if not node.options:
            yield "a choice needs options", "add 'options:'"
        for option in node.options:
            if not option.next:
                yield f"option {option.id!r} leads nowhere", "add 'next:' to the option"
    elif node.kind == "multi":
        if not node.options or not node.store or not node.next:
            yield "a multi-select needs options, 'store' and 'next'", "add the missing keys"
    elif node.kind == "input":
        if node.parser not in parsers:
            yield f"unknown parser {node.parser!r}", f"use one of: {', '.join(sorted(parsers))}"
        if not node.store or not node.next:
            yield "an input needs 'store' and 'next'", "add the missing keys"
        if node.ambiguous is None:
            yield "an input needs 'ambiguous': the question when an answer matches several places", "add it"
    elif node.kind == "route":
        if not node.routes or node.routes[-1].when:
            yield "a route needs a last branch without 'when'", "add '- next: ...' as the fallback"
    elif node.kind == "action" and not node.action:
        yield "an action node needs 'action'", "use emergency, handoff or end"
    if node.kind in ("choice", "multi") and node.skip:
        yield "'skip' is only for input nodes", "remove it"


def _buttons(node: Node, script: Script) -> list[Event]:
    events = [Event(EventOp.CHOOSE if node.kind == "choice" else EventOp.TOGGLE, node.id, o.id) for o in node.options]
    if node.skip:
        events.append(Event(EventOp.SKIP, node.id, node.skip.id))
    return events + [
        Event(EventOp.DONE, node.id),
        Event(EventOp.EMERGENCY),
        Event(EventOp.BACK),
        Event(EventOp.RESTART),
    ]


def _reachable(script: Script, roots: set[str]) -> set[str]:
    seen = set(roots)
    queue = deque(roots)
    while queue:
        for target in script.node(queue.popleft()).targets():
            if target not in seen and target in script.index:
                seen.add(target)
                queue.append(target)
    return seen


def _can_finish(script: Script) -> set[str]:
    """Nodes from which an action node (an ending) can be reached."""
    done = {n.id for n in script.nodes if n.kind == "action"}
    changed = True
    while changed:
        changed = False
        for node in script.nodes:
            if node.id not in done and any(t in done for t in node.targets()):
                done.add(node.id)
                changed = True
    return done


def load_scripts(directory: Path = SCRIPTS_DIR) -> dict[str, LoadedScript]:
    """Every script in a folder, by script id."""
    loaded = [load_script(path) for path in sorted(directory.glob("*.yaml"))]
    return {item.script.id: item for item in loaded}
