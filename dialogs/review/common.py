"""What the transcript, the review sheet and the diff share: a script's strings in words.

Everything is worded for association staff, not programmers: node kinds and branches
are described in words, and every string says whether people see it translated,
unreviewed, or in French. Texts go through the bot's own `Translator`, so what is shown
here is what people are served, right-to-left isolates included.
"""

from __future__ import annotations

import gettext
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from babel import UnknownLocaleError

from dialogs.i18n import Coverage, Translator
from dialogs.languages import SOURCE_LOCALE, is_rtl
from dialogs.model import Node, Route, Script
from dialogs.versions import Catalogue, Version, script_texts

Status = Literal["source", "reviewed", "unreviewed", "fuzzy", "missing"]
NOT_TRANSLATED = "[not translated: shows French]"
UNREVIEWED = "[unreviewed]"

KIND_WORDS = {
    "choice": "question, one answer",
    "multi": "question, several answers",
    "input": "question, typed answer",
    "info": "information",
    "route": "automatic branch, never shown",
    "action": "ending",
}
ACTION_WORDS = {
    "handoff": (
        "sends the anonymous request to the association (the bot adds the code and the association's contact below)"
    ),
    "end": "nothing is sent",
    "emergency": "emergency screen",
}


@dataclass(frozen=True)
class Row:
    """One string of a node, as shown to a person."""

    part: str
    msgid: str


# -- shared -------------------------------------------------------------------


def check_locale(version: Version, locale: str) -> Catalogue | None:
    if locale == SOURCE_LOCALE:
        return None
    catalogue = version.catalogues.get(locale)
    if catalogue is None:
        known = ", ".join([SOURCE_LOCALE, *version.catalogues])
        raise ValueError(f"there is no catalogue for {locale!r}; choose one of: {known}")
    return catalogue


class _Served(gettext.NullTranslations):
    """A catalogue's served texts as gettext serves them: a msgid it does not serve shows in French."""

    def __init__(self, messages: Mapping[str, str]) -> None:
        super().__init__()
        self._messages = messages

    def gettext(self, message: str) -> str:
        return self._messages.get(message, message)


def translator(version: Version, locale: str) -> Translator:
    """The bot's translator over this version's catalogue: what people are served, isolates included.

    Plural entries show their first form (`ngettext` is not used on the sheet)."""
    catalogue = check_locale(version, locale)
    if catalogue is None:
        return Translator(SOURCE_LOCALE, gettext.NullTranslations())
    return Translator(locale, _Served(catalogue.messages), rtl(locale))


def status(catalogue: Catalogue | None, msgid: str) -> Status:
    """Why a person sees what they see for `msgid`."""
    if catalogue is None:
        return "source"
    if msgid in catalogue.messages:
        return "unreviewed" if msgid in catalogue.unreviewed else "reviewed"
    return "fuzzy" if msgid in catalogue.fuzzy else "missing"


def rtl(locale: str) -> bool:
    try:
        return is_rtl(locale)
    except (ValueError, LookupError, UnknownLocaleError):
        return False


def script_coverage(version: Version, locale: str) -> Coverage:
    """Counts over the script's own texts (each distinct text once), for the review sheet's header."""
    msgids = list(dict.fromkeys(t.msgid for t in script_texts(version.script.script)))
    return coverage_of(check_locale(version, locale), msgids, locale)


def coverage_of(catalogue: Catalogue | None, msgids: Iterable[str], locale: str) -> Coverage:
    """Counts over `msgids` (each counted once)."""
    msgids = list(dict.fromkeys(msgids))
    counts = {"source": 0, "reviewed": 0, "unreviewed": 0, "fuzzy": 0, "missing": 0}
    for msgid in msgids:
        counts[status(catalogue, msgid)] += 1
    return Coverage(
        locale=locale,
        total=len(msgids),
        translated=counts["reviewed"] + counts["source"],
        unreviewed=counts["unreviewed"],
        fuzzy=counts["fuzzy"],
        missing=counts["missing"],
    )


def script_rows(script: Script) -> list[Row]:
    rows = [Row("Title", script.title)]
    labels = script.labels
    rows += [
        Row('Common button "back" (leaves the emergency screen)', labels.back),
        Row('Common button "next" (information screens)', labels.next),
        Row('Common button "done" (several answers)', labels.done),
        Row('Common button "restart" (endings)', labels.restart),
    ]
    return [r for r in rows if r.msgid.strip()]


def node_rows(node: Node, script: Script) -> list[Row]:
    """Every string of a node in the order a person meets them."""
    rows: list[Row] = []
    if node.text:
        part = "Text (below what would be sent, and the association)" if node.show_summary else "Text"
        rows.append(Row(part, node.text))
    if node.kind == "choice":
        rows += [Row(f"Button → {o.next}", o.label) for o in node.options]
    elif node.kind == "multi":
        rows += [Row("Answer to tick", o.label) for o in node.options]
        rows.append(Row(f"Button → {node.next}", node.continue_label or script.labels.done))
    elif node.kind == "info" and node.next:
        rows.append(Row(f"Button → {node.next}", node.continue_label or script.labels.next))
    elif node.kind == "input":
        if node.error:
            rows.append(Row("When the answer is not understood", node.error))
        if node.ambiguous:
            rows.append(Row("When several places match", node.ambiguous))
        if node.skip:
            rows.append(Row(f"Button → {node.skip.next}", node.skip.label))
    elif node.kind == "action" and node.action != "emergency":
        rows.append(Row(f"Button → {script.start} (start again)", script.labels.restart))
    if node.summary:
        rows.append(Row("Name of this answer in the summary", node.summary))
    return [r for r in rows if r.msgid]


def flow(node: Node, script: Script) -> list[str]:
    """What a node does, in words (not translated: it is for staff)."""
    lines = []
    if node.id == script.start:
        lines.append("First screen of the conversation.")
    if node.id == script.emergency:
        lines.append('Also shown over any screen by the "Urgence" button.')
    if node.kind == "route":
        lines.append(describe_routes(node.routes, script) + ".")
    elif node.kind == "input":
        typed = "Typed answer or shared location" if node.accepts_location else "Typed answer"
        lines.append(f"{typed} → {node.next}.")
    elif node.kind == "action" and node.action:
        lines.append(f"Ending: {ACTION_WORDS[node.action]}.")
    if node.store and node.kind != "route":
        lines.append(f"The answer is kept as “{node.store}”.")
    return lines


def describe_routes(routes: Iterable[Route], script: Script) -> str:
    """ "if age is minor → minor_help; otherwise → needs"."""
    several = {n.store for n in script.nodes if n.kind == "multi" and n.store}
    parts = []
    for position, route in enumerate(routes):
        if not route.when:
            parts.append(f"otherwise → {route.next}" if position else f"always → {route.next}")
            continue
        conditions = []
        for key, expected in route.when.items():
            values = [expected] if isinstance(expected, str) else list(expected)
            verb = "includes" if key in several else "is"
            conditions.append(f"{key} {verb} {' or '.join(values)}")
        parts.append(f"{'otherwise if' if position else 'if'} {' and '.join(conditions)} → {route.next}")
    return "; ".join(parts)


def heading(node: Node) -> str:
    words = KIND_WORDS[node.kind]
    return f"{words} ({node.action})" if node.kind == "action" and node.action else words
