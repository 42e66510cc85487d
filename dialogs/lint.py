"""Every problem in a script and its catalogues, each with a fix a moderator can make.

Lint never raises on a broken file: a YAML mistake or a broken .po is one more finding,
so one run lists everything to fix. `unreviewed` translations are not problems here
(they are served; `passerelle translations coverage` counts them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml
from babel.messages.catalog import Message

from dialogs.extract import BUTTON_NOTE
from dialogs.i18n import LOCALES_DIR
from dialogs.loader import Problem, ScriptInvalid, parse_script
from dialogs.model import Script
from dialogs.telegram_text import MESSAGE_LIMIT as MAX_TEXT
from dialogs.telegram_text import utf16_len
from dialogs.versions import (
    Catalogue,
    ScriptText,
    catalogue_from_entries,
    catalogue_paths,
    language_name,
    parse_po,
    po_display_name,
    script_texts,
)

BUTTON_LIMIT = 40
"""A full-width Telegram button shows about 35-40 Latin characters before cutting the label."""
PLACEHOLDER = re.compile(r"\{\w*\}|%\(\w+\)[sd]|%[sd]")
"""Same rule as tests/test_catalogues.py: what the bot fills in must survive translation."""
QUOTED_LENGTH = 60


@dataclass(frozen=True)
class Finding:
    file: str
    where: str | None
    """The node id, or the (shortened) msgid of a text the bot shows outside the script."""
    message: str
    hint: str

    def __str__(self) -> str:
        where = self.file + (f" [{self.where}]" if self.where else "")
        return f"{where}: {self.message}" + (f" (fix: {self.hint})" if self.hint else "")


def lint(script_path: Path, locales_dir: Path = LOCALES_DIR) -> list[Finding]:
    """The script's problems (in node order), then each catalogue's (in the picker's order)."""
    script, findings = _lint_script(script_path)
    texts = script_texts(script) if script is not None else []
    for locale, po in catalogue_paths(locales_dir):
        findings += _lint_catalogue(locale, po, texts)
    return findings


# -- the script -------------------------------------------------------------------


def _lint_script(path: Path) -> tuple[Script | None, list[Finding]]:
    name = path.name
    try:
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [Finding(name, None, "the script file does not exist", f"check the name: {path}")]
    except UnicodeDecodeError:
        return None, [Finding(name, None, "the script is not saved as UTF-8 text", "save it as UTF-8")]
    try:
        script = parse_script(source, name, path).script
    except ScriptInvalid as exc:
        return None, _in_node_order(exc.problems, _node_order(source))
    findings = [
        Finding(
            name,
            text.where,
            f'button "{text.msgid}" is {len(text.msgid)} characters; Telegram cuts buttons after about {BUTTON_LIMIT}',
            f"shorten it to {BUTTON_LIMIT} characters or fewer",
        )
        for text in script_texts(script)
        if text.button and len(text.msgid) > BUTTON_LIMIT
    ]
    return script, findings


def _node_order(source: str) -> dict[str, int]:
    """Node positions in the file, to sort the loader's problems even when the script is invalid."""
    try:
        raw = yaml.safe_load(source)
    except yaml.YAMLError:
        return {}
    nodes = raw.get("nodes") if isinstance(raw, dict) else None
    order: dict[str, int] = {}
    for position, node in enumerate(nodes if isinstance(nodes, list) else ()):
        if isinstance(node, dict) and isinstance(node.get("id"), str):
            order.setdefault(node["id"], position)
    return order


def _in_node_order(problems: Iterable[Problem], order: dict[str, int]) -> list[Finding]:
    def position(problem: Problem) -> int:
        return -1 if problem.node is None else order.get(problem.node, len(order))

    return [Finding(p.file, p.node, p.message, p.hint) for p in sorted(problems, key=position)]


# -- the catalogues -----------------------------------------------------------------


def _lint_catalogue(locale: str, path: Path, texts: list[ScriptText]) -> list[Finding]:
    name = po_display_name(path)
    language = language_name(locale)
    try:
        source = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return [
            Finding(name, None, f"{language}: the file is not saved as UTF-8 text", "save it as UTF-8 (Poedit does)")
        ]
    parsed = parse_po(source, name)
    findings = [Finding(p.file, p.node, f"{language}: {p.message}", p.hint) for p in parsed.problems]
    findings += _coverage_findings(
        name, language, catalogue_from_entries(locale, parsed.entries), parsed.entries, texts
    )
    used_at: dict[str, str] = {}
    buttons: set[str] = set()
    for text in texts:
        used_at.setdefault(text.msgid, text.where)
        if text.button:
            buttons.add(text.msgid)
    for entry in parsed.entries:
        findings += _entry_findings(name, language, entry, used_at, buttons)
    return findings


def _coverage_findings(
    name: str, language: str, catalogue: Catalogue, entries: Iterable[Message], texts: list[ScriptText]
) -> list[Finding]:
    """Script texts people would see in French: not translated, or translated but fuzzy."""
    present = {_source(entry) for entry in entries}
    places: dict[str, list[str]] = {}
    for text in texts:
        wheres = places.setdefault(text.msgid, [])
        if text.where not in wheres:
            wheres.append(text.where)
    findings = []
    for msgid, wheres in places.items():
        if msgid in catalogue.messages:
            continue
        also = f" (also used on: {', '.join(wheres[1:])})" if len(wheres) > 1 else ""
        quoted = _quote(msgid)
        if msgid in catalogue.fuzzy:
            message = (
                f"{language}: the translation of {quoted} is marked fuzzy (out of date), so people see the French{also}"
            )
            hint = f"check it against the French in {name}, then remove 'fuzzy' from its '#,' line"
        elif msgid in present:
            message = f"{language}: {quoted} is not translated, so people see the French{also}"
            hint = f"translate it in {name}"
        else:
            message = f"{language}: {quoted} is not in the catalogue yet, so people see the French{also}"
            hint = f"run `passerelle translations extract` then `update`, then translate it in {name}"
        findings.append(Finding(name, wheres[0], message, hint))
    return findings


def _entry_findings(
    name: str, language: str, entry: Message, used_at: dict[str, str], buttons: set[str]
) -> list[Finding]:
    """Mechanical checks of one translated entry: placeholders and Telegram's limits."""
    msgid = _source(entry)
    forms = [f for f in (entry.string if isinstance(entry.string, (tuple, list)) else (entry.string,)) if f]
    where = used_at.get(msgid, _short(msgid))
    quoted = _quote(msgid)
    line = f" (line {entry.lineno})" if entry.lineno else ""
    expected = sorted(PLACEHOLDER.findall(msgid))
    is_button = msgid in buttons or any(BUTTON_NOTE in c for c in entry.auto_comments)
    findings = []
    for form in forms:
        got = sorted(PLACEHOLDER.findall(form))
        if got != expected:
            findings.append(
                Finding(
                    name,
                    where,
                    f"{language}: the translation of {quoted}{line} has placeholders {_list(got)}, "
                    f"the French has {_list(expected)}",
                    "copy each {…} exactly as in the French, untranslated; the bot fills it in",
                )
            )
        if utf16_len(form) > MAX_TEXT:
            findings.append(
                Finding(
                    name,
                    where,
                    f"{language}: the translation of {quoted}{line} is {utf16_len(form)} characters; "
                    f"Telegram shows at most {MAX_TEXT}",
                    f"shorten it in {name}",
                )
            )
        elif is_button and len(form) > BUTTON_LIMIT:
            findings.append(
                Finding(
                    name,
                    where,
                    f"{language}: the button {quoted}{line} is {len(form)} characters once translated; "
                    f"Telegram cuts buttons after about {BUTTON_LIMIT}",
                    f"shorten the translation to {BUTTON_LIMIT} characters or fewer in {name}",
                )
            )
    return findings


def _source(entry: Message) -> str:
    return entry.id if isinstance(entry.id, str) else entry.id[0]


def _short(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else text
    return first if len(first) <= QUOTED_LENGTH and first == text.strip() else first[: QUOTED_LENGTH - 1].rstrip() + "…"


def _quote(text: str) -> str:
    return f'"{_short(text)}"'


def _list(placeholders: list[str]) -> str:
    return ", ".join(placeholders) if placeholders else "none"
