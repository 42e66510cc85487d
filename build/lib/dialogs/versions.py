"""What moderators review and approve: one script and the catalogues that translate it.

A Version is the same whether it comes from the files or from a snapshot kept elsewhere
(for example the database of approvals), so the review sheet, the transcript and the
diff never depend on where it was stored.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import PoFileParser

from dialogs.extract import CODE_KEYS, is_button, is_translatable
from dialogs.i18n import DOMAIN, LOCALES_DIR
from dialogs.languages import PEOPLE_LOCALES, SOURCE_LOCALE
from dialogs.loader import Invalid, LoadedScript, Problem, parse_script
from dialogs.model import Script

UNREVIEWED = "unreviewed"
"""The `#,` flag of a machine-assisted translation nobody who speaks the language has checked."""


@dataclass(frozen=True)
class Catalogue:
    """One language's translations, as people are served them.

    `messages` holds only what is served: translated and not fuzzy. A plural entry is
    keyed by its singular msgid and holds its first form; every form is in `plurals`.
    msgctxt is not used in this project and is ignored. `unreviewed` is a subset of the
    served msgids.
    """

    locale: str
    messages: Mapping[str, str]
    unreviewed: frozenset[str]
    fuzzy: frozenset[str]
    digest: str
    """sha256 of the sorted served mapping (and of every plural form): reordering or
    commenting the .po keeps it, and so does removing an `unreviewed` flag (the digest
    names what is shown, so an edit to a second plural form still needs approval)."""
    plurals: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    """Every form of each served plural entry, by singular msgid."""


@dataclass(frozen=True)
class Version:
    """A script and its catalogues, as reviewed together."""

    script: LoadedScript
    source: str
    """The YAML text the script was parsed from (what an approval stores)."""
    catalogues: Mapping[str, Catalogue]


class CatalogueInvalid(Invalid):
    """A .po file that cannot be trusted: every problem found, each with a fix hint."""


@dataclass(frozen=True)
class ScriptText:
    """One translatable text of a script and where it is used."""

    where: str
    """The node id, or "title" / "labels" for texts of the whole script."""
    key: str
    """The YAML key it is written under: text, label, continue_label, back…"""
    msgid: str
    button: bool


@dataclass(frozen=True)
class ParsedPo:
    """A .po read leniently: its entries, and every problem found on the way."""

    entries: tuple[Message, ...]
    problems: tuple[Problem, ...]


# -- scripts ------------------------------------------------------------------


def script_texts(script: Script) -> list[ScriptText]:
    """Every translatable text in script order, with the same notion of translatable keys as
    the extractor (dialogs/extract.py), so the review tools see what translators see."""
    found: list[ScriptText] = []

    def add(where: str, key: str, parent: str, value: Any) -> None:
        if isinstance(value, str) and value.strip() and is_translatable(key, parent):
            found.append(ScriptText(where, key, value, is_button(key)))

    for key, value in script.model_dump(exclude={"nodes", "labels", *CODE_KEYS}).items():
        add(key, key, "", value)
    for key, value in script.labels.model_dump().items():
        add("labels", key, "labels", value)
    for node in script.nodes:
        for key, value in node.model_dump(exclude=set(CODE_KEYS)).items():
            if key == "options":
                for option in value:
                    for sub, text in option.items():
                        add(node.id, sub, key, text)
            elif key == "skip" and value:
                for sub, text in value.items():
                    add(node.id, sub, key, text)
            else:
                add(node.id, key, "nodes", value)
    return found


def script_msgids(script: Script) -> list[tuple[str, str]]:
    """(where, msgid) for every translatable text, in script order; a text used twice appears twice."""
    return [(text.where, text.msgid) for text in script_texts(script)]


# -- catalogues -----------------------------------------------------------------

_QUOTED = r'"(?:[^"\\]|\\.)*"'
_KEYWORD = re.compile(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[[^\]]*\])?)(?=[\s\"]|$)")
_KEYWORD_LINE = re.compile(rf"^(?:msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+{_QUOTED}$")
_CONTINUATION = re.compile(rf"^{_QUOTED}$")
_QUOTE_HINT = 'each text starts and ends with " on the same line; write a quote inside a text as \\"'


def po_display_name(path: Path) -> str:
    """`locales/ro/LC_MESSAGES/messages.po`: enough to find the file, whatever the checkout."""
    return "/".join(path.parts[-4:])


def parse_po(text: str, name: str) -> ParsedPo:
    """Read .po text without stopping at the first mistake, so a translator gets every
    problem at once. Babel alone accepts broken quotes and duplicates silently; gettext's
    msgfmt would not, so they are checked here too."""
    problems = _line_problems(text, name)
    parser = _CollectingParser(Catalog(locale=None, domain=DOMAIN), ignore_obsolete=True)
    try:
        parser.parse(text.splitlines())
    except (ValueError, IndexError, KeyError, AttributeError, UnknownLocaleError) as exc:
        if not problems:
            problems.append(
                Problem(name, None, f"the file cannot be read ({exc})", "compare it with another language's file")
            )
        return ParsedPo((), tuple(problems))
    seen = {(p.message, p.node) for p in problems}
    for lineno, babel_message in parser.errors:
        message, hint = _explain(babel_message, lineno)
        if (message, None) not in seen and not any(f"line {lineno}:" in m for m, _ in seen):
            problems.append(Problem(name, None, message, hint))
            seen.add((message, None))
    problems.sort(key=_line_of)
    entries = tuple(m for m in parser.catalog if m.id)
    return ParsedPo(entries, tuple(problems))


def catalogue_from_po(path: Path) -> Catalogue:
    """One language's .po file; CatalogueInvalid lists every syntax problem found."""
    name = po_display_name(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise CatalogueInvalid(
            [Problem(name, None, "the file is not saved as UTF-8 text", "save it as UTF-8 (Poedit does)")]
        ) from None
    return catalogue_from_po_text(path.parent.parent.name, text, name)


def catalogue_from_po_text(locale: str, text: str, name: str | None = None) -> Catalogue:
    """A catalogue from .po text kept elsewhere (an approved snapshot): same rules as a file."""
    parsed = parse_po(text, name or f"{locale}/LC_MESSAGES/{DOMAIN}.po")
    if parsed.problems:
        raise CatalogueInvalid(list(parsed.problems))
    return catalogue_from_entries(locale, parsed.entries)


def catalogue_from_entries(locale: str, entries: Iterable[Message]) -> Catalogue:
    """Served, unreviewed and fuzzy msgids of parsed entries (missing ones are simply absent)."""
    messages: dict[str, str] = {}
    plurals: dict[str, tuple[str, ...]] = {}
    unreviewed: set[str] = set()
    fuzzy: set[str] = set()
    for entry in entries:
        if not entry.id:
            continue
        msgid = entry.id if isinstance(entry.id, str) else entry.id[0]
        forms = [f or "" for f in (entry.string if isinstance(entry.string, (tuple, list)) else (entry.string,))]
        if not forms or not all(forms):
            continue
        if entry.fuzzy:
            fuzzy.add(msgid)
            continue
        messages[msgid] = forms[0]
        if not isinstance(entry.id, str):
            plurals[msgid] = tuple(forms)
        if UNREVIEWED in entry.flags:
            unreviewed.add(msgid)
    return catalogue_from_messages(locale, messages, unreviewed, fuzzy, plurals)


def catalogue_from_messages(
    locale: str,
    messages: Mapping[str, str],
    unreviewed: Iterable[str] = (),
    fuzzy: Iterable[str] = (),
    plurals: Mapping[str, Iterable[str]] | None = None,
) -> Catalogue:
    """A catalogue from a snapshot stored elsewhere (for example a database row).

    `plurals` gives every form of plural entries (their first form is in `messages`).

    Raises ValueError when the parts contradict each other (a msgid both served and
    fuzzy, or flagged unreviewed without being served): that is a bug, not a translation.
    """
    served = dict(messages)
    unreviewed_set, fuzzy_set = frozenset(unreviewed), frozenset(fuzzy)
    if both := sorted(fuzzy_set & served.keys()):
        raise ValueError(f"{locale}: msgids both served and fuzzy: {both[:3]}")
    if stray := sorted(unreviewed_set - served.keys()):
        raise ValueError(f"{locale}: msgids flagged unreviewed but not served: {stray[:3]}")
    forms = {msgid: tuple(values) for msgid, values in (plurals or {}).items()}
    if bad := sorted(m for m, values in forms.items() if served.get(m) != (values[0] if values else None)):
        raise ValueError(f"{locale}: plural forms that are not served, or whose first form differs: {bad[:3]}")
    digest = catalogue_digest(served, forms)
    return Catalogue(locale, MappingProxyType(served), unreviewed_set, fuzzy_set, digest, MappingProxyType(forms))


def catalogue_digest(messages: Mapping[str, str], plurals: Mapping[str, tuple[str, ...]] | None = None) -> str:
    """Content hash of what is served, independent of the order and comments of the .po."""
    content: list[Any] = sorted(messages.items())
    if plurals:
        content.append(sorted((msgid, list(forms)) for msgid, forms in plurals.items()))
    canonical = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def catalogue_paths(locales_dir: Path = LOCALES_DIR) -> list[tuple[str, Path]]:
    """(locale, .po path) for every catalogue, in the language picker's order, then any other
    folder by name. French is the source language: it has no catalogue."""
    found = {
        po.parent.parent.name: po
        for po in locales_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")
        if po.parent.parent.name != SOURCE_LOCALE
    }
    order = [loc for loc in PEOPLE_LOCALES if loc in found] + sorted(set(found) - set(PEOPLE_LOCALES))
    return [(loc, found[loc]) for loc in order]


def language_name(locale: str) -> str:
    """ "Romanian (ro)": what staff call the language, plus the folder name they will look for."""
    try:
        name = Locale.parse(locale).get_display_name("en") or locale
    except (ValueError, UnknownLocaleError):
        return locale
    return f"{name} ({locale})"


# -- versions -------------------------------------------------------------------


def version_from_files(script_path: Path, locales_dir: Path = LOCALES_DIR) -> Version:
    """The script file and every catalogue beside it. Raises loader.ScriptInvalid or
    CatalogueInvalid (listing every broken catalogue at once)."""
    source = script_path.read_text(encoding="utf-8")
    script = parse_script(source, script_path.name, script_path)
    catalogues: dict[str, Catalogue] = {}
    problems: list[Problem] = []
    for locale, po in catalogue_paths(locales_dir):
        try:
            catalogues[locale] = catalogue_from_po(po)
        except CatalogueInvalid as exc:
            problems += exc.problems
    if problems:
        raise CatalogueInvalid(problems)
    return Version(script, source, MappingProxyType(catalogues))


def version_from_source(source: str, name: str, catalogues: Mapping[str, Catalogue]) -> Version:
    """A version from a stored snapshot; raises loader.ScriptInvalid like a file would."""
    return Version(parse_script(source, name), source, MappingProxyType(dict(catalogues)))


# -- .po syntax -------------------------------------------------------------------


class _CollectingParser(PoFileParser):
    """Babel's parser, collecting its complaints instead of printing them."""

    def __init__(self, catalog: Catalog, ignore_obsolete: bool) -> None:
        super().__init__(catalog, ignore_obsolete=ignore_obsolete, abort_invalid=False)
        self.errors: list[tuple[int, str]] = []

    def _invalid_pofile(self, line: str, lineno: int, msg: str) -> None:
        self.errors.append((lineno + 1, msg))


def _explain(babel_message: str, lineno: int) -> tuple[str, str]:
    """Babel's wording, turned into something a translator can act on."""
    at = f"line {lineno}:"
    if babel_message.startswith("missing msgstr"):
        return f"{at} a French text (msgid) has no translation line after it", 'add a line msgstr "" below it'
    if babel_message.startswith("Unknown or misformatted keyword"):
        return (
            f"{at} the line does not start with msgid, msgstr or a quoted text",
            "check the spelling at the start of the line",
        )
    if babel_message.startswith("Got line starting with"):
        return f"{at} a quoted text is not part of any entry", "join it to the entry above or delete it"
    if "conflicts" in babel_message:
        return (
            f"{at} the file still has conflict markers (#-#-#-)",
            "keep one version of each entry and delete the markers",
        )
    return f"{at} {babel_message}", "compare the line with the same entry in another language's file"


def _line_problems(text: str, name: str) -> list[Problem]:
    """Quoting and duplicate entries, which babel accepts silently but gettext rejects."""
    problems: list[Problem] = []
    first_seen: dict[tuple[str, str], int] = {}
    context, msgid, msgid_line, part = "", "", 0, ""
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword = _KEYWORD.match(line)
        if keyword:
            word = keyword.group(1)
            quoted = _KEYWORD_LINE.match(line) is not None
            if re.fullmatch(r"msgstr\[.*\]", word) and not re.fullmatch(r"msgstr\[\d+\]", word):
                problems.append(
                    Problem(
                        name, None, f"line {lineno}: {word} needs a number in brackets", "write msgstr[0], msgstr[1]…"
                    )
                )
            elif not quoted:
                problems.append(
                    Problem(name, None, f"line {lineno}: the text after {word} is not properly quoted", _QUOTE_HINT)
                )
            inner = line[len(word) :].strip()[1:-1] if quoted else ""
            if part == "msgid" and word.startswith("msgstr"):
                key = (context, msgid)
                if key != ("", "") and key in first_seen:
                    problems.append(
                        Problem(
                            name,
                            None,
                            f"line {msgid_line}: the same French text already has an entry on line {first_seen[key]}",
                            "keep one of the two entries and delete the other",
                        )
                    )
                first_seen.setdefault(key, msgid_line)
            if word == "msgid":
                msgid, msgid_line = inner, lineno
                if part != "msgctxt":
                    context = ""
            elif word == "msgctxt":
                context = inner
            part = word if word in ("msgid", "msgctxt") else "msgstr"
        elif line.startswith('"'):
            if not _CONTINUATION.match(line):
                problems.append(Problem(name, None, f"line {lineno}: a text is not properly quoted", _QUOTE_HINT))
            elif part == "msgid":
                msgid += line[1:-1]
            elif part == "msgctxt":
                context += line[1:-1]
    return problems


def _line_of(problem: Problem) -> int:
    match = re.match(r"line (\d+):", problem.message)
    return int(match.group(1)) if match else 0
