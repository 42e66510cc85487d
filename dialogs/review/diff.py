"""What changed between two versions, script node by node, then language by language.

Worded for the moderators who approve: node fields and routes in words, every served
translation compared (the bot's own messages are approved with the script's).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from dialogs.languages import PEOPLE_LOCALES
from dialogs.model import Node, Option, Script
from dialogs.review.common import describe_routes, heading
from dialogs.versions import Catalogue, Version, language_name, script_texts

ChangeKind = Literal[
    "node added",
    "node removed",
    "node changed",
    "translation added",
    "translation removed",
    "translation changed",
    "script metadata changed",
]


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    where: str
    """The node id, "<locale>: <msgid>" for a translation, or the script field (title, labels.back…)."""
    before: str | None
    after: str | None
    what: str = ""
    """For "node changed": the fields that differ, for example "text, options"."""


def diff(old: Version, new: Version, locales: Iterable[str] | None = None) -> list[Change]:
    """What changed, script first (node by node, by id), then language by language.

    Every served translation is compared, not only the script's: the catalogue also holds
    the bot's own messages, and those are approved with it.
    """
    changes = _script_changes(old.script.script, new.script.script)
    if locales is None:
        present = set(old.catalogues) | set(new.catalogues)
        wanted = [loc for loc in PEOPLE_LOCALES if loc in present] + sorted(present - set(PEOPLE_LOCALES))
    else:
        wanted = list(locales)
    order = {
        m: i
        for i, m in enumerate(
            dict.fromkeys(
                [t.msgid for t in script_texts(new.script.script)] + [t.msgid for t in script_texts(old.script.script)]
            )
        )
    }
    for locale in wanted:
        changes += _translation_changes(locale, old.catalogues.get(locale), new.catalogues.get(locale), order)
    return changes


def _script_changes(old: Script, new: Script) -> list[Change]:
    changes: list[Change] = []
    for field in ("id", "title", "start", "emergency"):
        before, after = getattr(old, field), getattr(new, field)
        if before != after:
            changes.append(Change("script metadata changed", field, before, after))
    for key, before in old.labels.model_dump().items():
        after = getattr(new.labels, key)
        if before != after:
            changes.append(Change("script metadata changed", f"labels.{key}", before, after))
    for name in dict.fromkeys([*old.flags, *new.flags]):
        before_flag, after_flag = old.flags.get(name), new.flags.get(name)
        if before_flag != after_flag:
            changes.append(
                Change(
                    "script metadata changed",
                    f"flags.{name}",
                    None if before_flag is None else _when_words(before_flag),
                    None if after_flag is None else _when_words(after_flag),
                )
            )
    common_old = [n.id for n in old.nodes if n.id in new.index]
    common_new = [n.id for n in new.nodes if n.id in old.index]
    if common_old != common_new:
        changes.append(Change("script metadata changed", "node order", ", ".join(common_old), ", ".join(common_new)))
    for node in new.nodes:
        previous = old.index.get(node.id)
        if previous is None:
            changes.append(Change("node added", node.id, None, _node_words(node, new)))
        elif previous != node:
            fields = [f for f in Node.model_fields if getattr(previous, f) != getattr(node, f)]
            changes.append(
                Change(
                    "node changed",
                    node.id,
                    "\n".join(f"{f}: {_field_words(previous, f, old)}" for f in fields),
                    "\n".join(f"{f}: {_field_words(node, f, new)}" for f in fields),
                    what=", ".join(fields),
                )
            )
    changes.extend(
        Change("node removed", node.id, _node_words(node, old), None) for node in old.nodes if node.id not in new.index
    )
    return changes


def _translation_changes(
    locale: str, old: Catalogue | None, new: Catalogue | None, order: dict[str, int]
) -> list[Change]:
    before = _served(old)
    after = _served(new)
    msgids = sorted(set(before) | set(after), key=lambda m: (order.get(m, len(order)), m))
    changes = []
    for msgid in msgids:
        was, now = before.get(msgid), after.get(msgid)
        if was == now:
            continue
        kind: ChangeKind = (
            "translation added" if was is None else "translation removed" if now is None else "translation changed"
        )
        changes.append(Change(kind, f"{locale}: {msgid}", was, now))
    return changes


def _served(catalogue: Catalogue | None) -> dict[str, str]:
    """Each served text; a plural entry shows every form, one per line, so no edit goes unseen."""
    if catalogue is None:
        return {}
    served = dict(catalogue.messages)
    for msgid, forms in catalogue.plurals.items():
        served[msgid] = "\n".join(f"(form {i}) {form}" for i, form in enumerate(forms, start=1))
    return served


def _one_line(text: str | None) -> str:
    return "(none)" if text is None else " / ".join(line for line in text.splitlines()) or '""'


def _option_words(option: Option) -> str:
    lead = f" → {option.next}" if option.next else ""
    value = f" (kept as {option.value})" if option.value else ""
    return f"{option.id} “{option.label}”{lead}{value}"


def _when_words(when: dict[str, Any]) -> str:
    return " and ".join(f"{k} is {v if isinstance(v, str) else ' or '.join(v)}" for k, v in when.items())


def _field_words(node: Node, field: str, script: Script) -> str:
    value = getattr(node, field)
    if field == "options":
        return "; ".join(_option_words(o) for o in value) or "(none)"
    if field == "skip":
        return _option_words(value) if value else "(none)"
    if field == "routes":
        return describe_routes(value, script) or "(none)"
    if isinstance(value, str) or value is None:
        return _one_line(value)
    return str(value)


def _node_words(node: Node, script: Script) -> str:
    parts = [heading(node)]
    if node.text:
        parts.append(f"“{_one_line(node.text)}”")
    if node.options:
        parts.append("options: " + "; ".join(_option_words(o) for o in node.options))
    if node.routes:
        parts.append(describe_routes(node.routes, script))
    if node.next:
        parts.append(f"then → {node.next}")
    return "; ".join(parts)


def format_diff(changes: Iterable[Change]) -> str:
    """The changes as plain text: "Script", then one section per language."""
    sections: dict[str, list[str]] = {}
    for change in changes:
        if change.kind.startswith("translation"):
            locale, _, msgid = change.where.partition(": ")
            title, head = language_name(locale), f"{change.kind}: “{_short(msgid)}”"
        else:
            title = "Script"
            head = f"{change.kind}: {change.where}" + (f" ({change.what})" if change.what else "")
        lines = sections.setdefault(title, [])
        lines.append(f"  {head}")
        if change.before is not None:
            lines += _indented("was", change.before)
        if change.after is not None:
            lines += _indented("now", change.after)
    if not sections:
        return "no changes\n"
    ordered = sorted(sections, key=lambda t: t != "Script")
    return "\n\n".join("\n".join([title, *sections[title]]) for title in ordered) + "\n"


def _indented(label: str, text: str) -> Iterator[str]:
    lines = text.splitlines() or [""]
    yield f"    {label}: {lines[0]}"
    for line in lines[1:]:
        yield f"         {line}".rstrip()


def _short(text: str, limit: int = 70) -> str:
    first = text.strip().splitlines()[0] if text.strip() else text
    return first if len(first) <= limit and first == text.strip() else first[: limit - 1].rstrip() + "…"
