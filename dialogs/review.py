"""What moderators read before approving: a transcript, a review sheet, and a diff.

Everything is worded for association staff, not programmers: node kinds and branches
are described in words, and every string says whether people see it translated,
unreviewed, or in French.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from babel import UnknownLocaleError

from dialogs.i18n import Coverage
from dialogs.languages import PEOPLE_LOCALES, SOURCE_LOCALE, is_rtl
from dialogs.model import Node, Option, Route, Script
from dialogs.versions import Catalogue, Version, language_name, script_texts

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
class _Row:
    """One string of a node, as shown to a person."""

    part: str
    msgid: str


# -- shared -------------------------------------------------------------------


def _check_locale(version: Version, locale: str) -> Catalogue | None:
    if locale == SOURCE_LOCALE:
        return None
    catalogue = version.catalogues.get(locale)
    if catalogue is None:
        known = ", ".join([SOURCE_LOCALE, *version.catalogues])
        raise ValueError(f"there is no catalogue for {locale!r}; choose one of: {known}")
    return catalogue


def _translate(catalogue: Catalogue | None, msgid: str) -> tuple[str, Status]:
    """What a person sees for `msgid`, and why."""
    if catalogue is None:
        return msgid, "source"
    if msgid in catalogue.messages:
        return catalogue.messages[msgid], "unreviewed" if msgid in catalogue.unreviewed else "reviewed"
    return msgid, "fuzzy" if msgid in catalogue.fuzzy else "missing"


def script_coverage(version: Version, locale: str) -> Coverage:
    """Counts over the script's own texts (each distinct text once), for the review sheet's header."""
    catalogue = _check_locale(version, locale)
    msgids = list(dict.fromkeys(t.msgid for t in script_texts(version.script.script)))
    counts = {"source": 0, "reviewed": 0, "unreviewed": 0, "fuzzy": 0, "missing": 0}
    for msgid in msgids:
        counts[_translate(catalogue, msgid)[1]] += 1
    return Coverage(
        locale=locale,
        total=len(msgids),
        translated=counts["reviewed"] + counts["source"],
        unreviewed=counts["unreviewed"],
        fuzzy=counts["fuzzy"],
        missing=counts["missing"],
    )


def _script_rows(script: Script) -> list[_Row]:
    rows = [_Row("Title", script.title)]
    labels = script.labels
    rows += [
        _Row('Common button "back" (leaves the emergency screen)', labels.back),
        _Row('Common button "next" (information screens)', labels.next),
        _Row('Common button "done" (several answers)', labels.done),
        _Row('Common button "restart" (endings)', labels.restart),
    ]
    return [r for r in rows if r.msgid.strip()]


def _node_rows(node: Node, script: Script) -> list[_Row]:
    """Every string of a node in the order a person meets them."""
    rows: list[_Row] = []
    if node.text:
        part = "Text (below what would be sent, and the association)" if node.show_summary else "Text"
        rows.append(_Row(part, node.text))
    if node.kind == "choice":
        rows += [_Row(f"Button → {o.next}", o.label) for o in node.options]
    elif node.kind == "multi":
        rows += [_Row("Answer to tick", o.label) for o in node.options]
        rows.append(_Row(f"Button → {node.next}", node.continue_label or script.labels.done))
    elif node.kind == "info" and node.next:
        rows.append(_Row(f"Button → {node.next}", node.continue_label or script.labels.next))
    elif node.kind == "input":
        if node.error:
            rows.append(_Row("When the answer is not understood", node.error))
        if node.ambiguous:
            rows.append(_Row("When several places match", node.ambiguous))
        if node.skip:
            rows.append(_Row(f"Button → {node.skip.next}", node.skip.label))
    elif node.kind == "action" and node.action != "emergency":
        rows.append(_Row(f"Button → {script.start} (start again)", script.labels.restart))
    if node.summary:
        rows.append(_Row("Name of this answer in the summary", node.summary))
    return [r for r in rows if r.msgid]


def _flow(node: Node, script: Script) -> list[str]:
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


def _heading(node: Node) -> str:
    words = KIND_WORDS[node.kind]
    return f"{words} ({node.action})" if node.kind == "action" and node.action else words


# -- markdown ---------------------------------------------------------------------


def render_markdown(version: Version, locale: str) -> str:
    """A transcript of every node in script order, in one language, for reading through."""
    catalogue = _check_locale(version, locale)
    script = version.script.script
    language = "French (source)" if catalogue is None else language_name(locale)
    out = [f"# {script.title}: script `{script.id}`, version {version.script.version}, in {language}", ""]
    if catalogue is not None:
        out += [
            (
                f"{UNREVIEWED}: nobody who speaks the language has checked this text yet. "
                f"{NOT_TRANSLATED}: people see the French text."
            ),
            "",
        ]
    out += ["## Texts of the whole script", ""]
    out += [f"- {row.part}: {_md_inline(catalogue, row.msgid)}" for row in _script_rows(script)]
    for node in script.nodes:
        out += ["", f"## {node.id} — {_heading(node)}", ""]
        if node.comment:
            out += [f"*Note for translators: {node.comment}*", ""]
        rows = _node_rows(node, script)
        if rows and rows[0].msgid == node.text:
            text, status = _translate(catalogue, node.text)
            out += [f"{rows[0].part}{_marker(status)}:", ""]
            out += [f"> {line}  " if line else ">" for line in text.splitlines()]
            out.append("")
            rows = rows[1:]
        out += [f"- {row.part}: {_md_inline(catalogue, row.msgid)}" for row in rows]
        if rows:
            out.append("")
        if flow := _flow(node, script):
            out.append(" ".join(flow))
        elif out[-1] == "":
            out.pop()
    return "\n".join(out).rstrip() + "\n"


def _marker(status: Status) -> str:
    return {"unreviewed": f" {UNREVIEWED}", "fuzzy": f" {NOT_TRANSLATED}", "missing": f" {NOT_TRANSLATED}"}.get(
        status, ""
    )


def _md_inline(catalogue: Catalogue | None, msgid: str) -> str:
    text, status = _translate(catalogue, msgid)
    return " / ".join(text.splitlines()) + _marker(status)


# -- html ----------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans Arabic",sans-serif;
margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1a1a1a;line-height:1.45}
h1{font-size:1.5rem;margin-bottom:.25rem}
h2{font-size:1.15rem;margin:2rem 0 .4rem;border-bottom:1px solid #ccc;padding-bottom:.2rem}
h2 .kind{font-weight:normal;color:#555;font-size:.95rem}
table{border-collapse:collapse;width:100%;margin:.4rem 0}
th,td{border:1px solid #bbb;padding:.4rem .5rem;vertical-align:top;text-align:start}
thead th{background:#f0f0f0}td.text{white-space:pre-wrap;width:38%}th.part{width:12%;font-weight:normal;color:#333}
td.status{width:12%;font-size:.9rem}
tr.unreviewed td{background:#fff4c2}tr.unreviewed td.status{font-weight:bold}
tr.missing td,tr.fuzzy td{background:#fde2e1}tr.missing td.status,tr.fuzzy td.status{font-weight:bold;color:#8a1c1c}
.meta th{width:14rem;background:#f7f7f7;font-weight:normal}.meta{max-width:48rem}
.flow{color:#333;margin:.2rem 0}.note{font-style:italic;color:#555;margin:.2rem 0}
nav ol{columns:4;font-size:.9rem}.help{background:#f3f6fb;border:1px solid #c9d6ea;padding:.6rem .8rem}
@media print{nav{display:none}h2{break-after:avoid}tr{break-inside:avoid}}
"""

_STATUS_WORDS = {
    "source": "French source",
    "reviewed": "Reviewed",
    "unreviewed": "UNREVIEWED: not yet checked by someone who speaks the language",
    "fuzzy": "OUT OF DATE (fuzzy): people see the French",
    "missing": "NOT TRANSLATED: people see the French",
}


def render_html(version: Version, locale: str, generated: dt.datetime | None = None) -> str:
    """One self-contained review sheet (no scripts, no external files): print it or mail it.

    `generated` is the date shown in the header (now, by default).
    """
    catalogue = _check_locale(version, locale)
    script = version.script.script
    when = (generated or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M %Z").strip()
    language = "French (source language)" if catalogue is None else language_name(locale)
    cover = script_coverage(version, locale)
    e = _escape
    out = [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Review sheet: {e(script.title)} ({e(script.id)} {e(version.script.version)}) in {e(language)}</title>",
        f"<style>{_CSS}</style>\n</head>\n<body>",
        f"<header>\n<h1>Review sheet: {e(script.title)}</h1>",
        '<table class="meta">',
        f"<tr><th>Script</th><td>{e(script.id)}</td></tr>",
        f"<tr><th>Script version</th><td><code>{e(version.script.version)}</code></td></tr>",
        f"<tr><th>Language</th><td>{e(language)}</td></tr>",
    ]
    if catalogue is not None:
        out.append(f"<tr><th>Catalogue version</th><td><code>{e(catalogue.digest[:8])}</code></td></tr>")
    out += [
        f"<tr><th>Generated</th><td>{e(when)}</td></tr>",
        f"<tr><th>Coverage of this script</th><td>{e(_coverage_words(cover, catalogue is None))}</td></tr>",
        "</table>",
    ]
    if catalogue is not None:
        out.append(
            '<p class="help">Read each row: the French source on the left, the translation on the right. '
            "Rows marked <strong>UNREVIEWED</strong> are shown to people but nobody who speaks the language "
            "has checked them yet. Rows marked <strong>NOT TRANSLATED</strong> or <strong>OUT OF DATE</strong> "
            "show the French text to people. Corrections go in "
            f"<code>locales/{e(locale)}/LC_MESSAGES/messages.po</code>; once someone who speaks the language has "
            "checked a row, remove the word <code>unreviewed</code> from its <code>#,</code> line there.</p>"
        )
    out.append("</header>")
    out.append(
        "<nav><ol>" + "".join(f'<li><a href="#node-{e(n.id)}">{e(n.id)}</a></li>' for n in script.nodes) + "</ol></nav>"
    )
    out += ['<section id="script-texts">', "<h2>Texts of the whole script</h2>"]
    out += _html_table(_script_rows(script), catalogue, locale, language)
    out.append("</section>")
    for node in script.nodes:
        out.append(f'<section id="node-{e(node.id)}">')
        out.append(f'<h2>{e(node.id)} <span class="kind">— {e(_heading(node))}</span></h2>')
        if node.comment:
            out.append(f'<p class="note">Note for translators: {e(node.comment)}</p>')
        out += [f'<p class="flow">{e(line)}</p>' for line in _flow(node, script)]
        rows = _node_rows(node, script)
        if rows:
            out += _html_table(rows, catalogue, locale, language)
        out.append("</section>")
    if catalogue is not None:
        out += _html_others(version, catalogue, locale, language)
    out.append("</body>\n</html>\n")
    return "\n".join(out)


def _escape(value: object) -> str:
    return html.escape(str(value), quote=True)


def _coverage_words(cover: Coverage, source: bool) -> str:
    if source:
        return f"{cover.total} texts; French is the source language, nothing to translate"
    return (
        f"{cover.total} texts: {cover.translated} reviewed, {cover.unreviewed} unreviewed, "
        f"{cover.fuzzy} out of date (fuzzy), {cover.missing} not translated"
    )


def _html_table(rows: Iterable[_Row], catalogue: Catalogue | None, locale: str, language: str) -> list[str]:
    e = _escape
    if catalogue is None:
        out = [
            "<table>",
            '<thead><tr><th scope="col">Part</th><th scope="col">French (source)</th></tr></thead>',
            "<tbody>",
        ]
        out += [
            f'<tr><th class="part" scope="row">{e(r.part)}</th><td class="text" lang="fr">{e(r.msgid)}</td></tr>'
            for r in rows
        ]
        return out + ["</tbody>", "</table>"]
    out = [
        "<table>",
        (
            f'<thead><tr><th scope="col">Part</th><th scope="col">French (source)</th>'
            f'<th scope="col">{e(language)}</th><th scope="col">Status</th></tr></thead>'
        ),
        "<tbody>",
    ]
    out += [_html_row(r.part, r.msgid, catalogue, locale) for r in rows]
    return out + ["</tbody>", "</table>"]


def _html_row(part: str, msgid: str, catalogue: Catalogue, locale: str) -> str:
    e = _escape
    text, status = _translate(catalogue, msgid)
    if status in ("reviewed", "unreviewed"):
        attrs = f'lang="{e(_bcp47(locale))}" dir="{"rtl" if _rtl(locale) else "ltr"}"'
    else:
        attrs = 'lang="fr" dir="ltr"'
    return (
        f'<tr class="{status}"><th class="part" scope="row">{e(part)}</th>'
        f'<td class="text" lang="fr">{e(msgid)}</td>'
        f'<td class="text" {attrs}>{e(text)}</td>'
        f'<td class="status">{e(_STATUS_WORDS[status])}</td></tr>'
    )


def _html_others(version: Version, catalogue: Catalogue, locale: str, language: str) -> list[str]:
    """The catalogue's other texts (the bot's own messages), so one sheet reviews the whole language."""
    in_script = {t.msgid for t in script_texts(version.script.script)}
    others = [m for m in catalogue.messages if m not in in_script] + sorted(catalogue.fuzzy - in_script)
    if not others:
        return []
    out = [
        '<section id="other-texts">',
        '<h2>Other texts of this language <span class="kind">— the bot\'s own messages, outside the script</span></h2>',
    ]
    out += _html_table((_Row("Message", m) for m in others), catalogue, locale, language)
    return out + ["</section>"]


def _bcp47(locale: str) -> str:
    return locale.replace("_", "-")


def _rtl(locale: str) -> bool:
    try:
        return is_rtl(locale)
    except (ValueError, LookupError, UnknownLocaleError):
        return False


# -- diff ------------------------------------------------------------------------------

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
    parts = [_heading(node)]
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
