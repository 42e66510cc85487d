"""The review sheet: one self-contained HTML page that shows moderators what people see.

Every cell goes through the bot's own translator (isolates included), the bot's own
messages are grouped by where they appear, and whole screens, assembled by the bot and
handed in as `SampleScreen`s, show how the parts read together. No scripts, no external
files: print it or mail it. The style sheet is package data (`sheet.css`).
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from dialogs.i18n import Coverage, Translator
from dialogs.languages import SOURCE_LOCALE
from dialogs.review.common import (
    Row,
    Status,
    check_locale,
    coverage_of,
    flow,
    heading,
    node_rows,
    script_coverage,
    script_rows,
    status,
    translator,
)
from dialogs.versions import Catalogue, Version, language_name, script_texts

BADGES: dict[Status, tuple[str, str]] = {
    "reviewed": ("OK", "Reviewed: checked by someone who speaks the language"),
    "unreviewed": ("UNREV", "UNREVIEWED: not yet checked by someone who speaks the language; people see it"),
    "fuzzy": ("OLD", "OUT OF DATE (fuzzy): people see the French"),
    "missing": ("NONE", "NOT TRANSLATED: people see the French"),
}
"""Short badge and its meaning, told once in the legend, so a one-word row stays one line."""
OTHER_TEXTS = "Other texts of the catalogue"


@dataclass(frozen=True)
class TextGroup:
    """The bot's own messages that appear in one place (footer buttons, help, mailbox…)."""

    title: str
    msgids: tuple[str, ...]


@dataclass(frozen=True)
class SampleScreen:
    """One whole screen as the bot assembles it, with sample data, in the sheet's language."""

    title: str
    html: str
    """Telegram HTML, as the bot sends it (only <b>, <i> and <code> tags)."""
    rows: tuple[tuple[str, ...], ...]
    """The button labels, row by row."""
    note: str = ""
    """What on it is a sample, for the moderator; a screen with a note is marked SAMPLE."""


@cache
def stylesheet() -> str:
    return files("dialogs.review").joinpath("sheet.css").read_text(encoding="utf-8")


def render_html(
    version: Version,
    locale: str,
    generated: dt.datetime | None = None,
    groups: Sequence[TextGroup] = (),
    samples: Sequence[SampleScreen] = (),
) -> str:
    """The review sheet. `groups`: the bot's own messages by where they appear (the rest of the
    catalogue is listed after them); `samples`: whole screens. `generated`: the date shown (now)."""
    catalogue = check_locale(version, locale)
    tr = translator(version, locale)
    script = version.script.script
    when = (generated or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M %Z").strip()
    language = "French (source language)" if catalogue is None else language_name(locale)
    groups = _with_others(version, catalogue, groups)
    e = _escape
    out = [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Review sheet: {e(script.title)} ({e(script.id)} {e(version.script.version)}) in {e(language)}</title>",
        f"<style>{stylesheet()}</style>\n</head>\n<body>",
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
        f"<tr><th>Coverage of this script</th><td>{e(_coverage_words(script_coverage(version, locale)))}</td></tr>",
    ]
    out.append("</table>")
    if catalogue is not None:
        out += _legend(locale)
    out += _counts(groups, catalogue, locale)
    out.append("</header>")
    links = [("as-seen", "As the person sees it")] if samples else []
    links += [(f"node-{n.id}", n.id) for n in script.nodes]
    out.append("<nav><ol>" + "".join(f'<li><a href="#{e(a)}">{e(t)}</a></li>' for a, t in links) + "</ol></nav>")
    if samples:
        out += _html_samples(samples, tr)
    out += ['<section id="script-texts">', "<h2>Texts of the whole script</h2>"]
    out += _html_table(script_rows(script), catalogue, tr, language)
    out.append("</section>")
    for node in script.nodes:
        out.append(f'<section id="node-{e(node.id)}">')
        out.append(f'<h2>{e(node.id)} <span class="kind">— {e(heading(node))}</span></h2>')
        if node.comment:
            out.append(f'<p class="note">Note for translators: {e(node.comment)}</p>')
        out += [f'<p class="flow">{e(line)}</p>' for line in flow(node, script)]
        rows = node_rows(node, script)
        if rows:
            out += _html_table(rows, catalogue, tr, language)
        out.append("</section>")
    for number, group in enumerate(groups, start=1):
        out += [
            f'<section id="texts-{number}">',
            f'<h2>{e(group.title)} <span class="kind">— the bot\'s own</span></h2>',
        ]
        out += _html_table((Row("Message", m) for m in group.msgids), catalogue, tr, language)
        out.append("</section>")
    out.append("</body>\n</html>\n")
    return "\n".join(out)


def _with_others(version: Version, catalogue: Catalogue | None, groups: Sequence[TextGroup]) -> list[TextGroup]:
    """`groups`, then what else the catalogue serves outside the script, so one sheet reviews the
    whole language. Empty groups are left out."""
    kept = [g for g in groups if g.msgids]
    if catalogue is None:
        return kept
    placed = {t.msgid for t in script_texts(version.script.script)} | {m for g in kept for m in g.msgids}
    others = [m for m in catalogue.messages if m not in placed] + sorted(catalogue.fuzzy - placed)
    return [*kept, TextGroup(OTHER_TEXTS, tuple(others))] if others else kept


def _legend(locale: str) -> list[str]:
    e = _escape
    items = "".join(f'<li><span class="badge {s}">{e(b)}</span> {e(m)}</li>' for s, (b, m) in BADGES.items())
    return [
        '<div class="help">',
        "<p>Read each row: the French source on the left, the translation on the right, as people are "
        "served it. The last column is the row's status:</p>",
        f'<ul class="legend">{items}</ul>',
        f"<p>Corrections go in <code>locales/{e(locale)}/LC_MESSAGES/messages.po</code>; once someone who "
        "speaks the language has checked a row, remove the word <code>unreviewed</code> from its "
        "<code>#,</code> line there.</p>",
        "</div>",
    ]


def _counts(groups: Sequence[TextGroup], catalogue: Catalogue | None, locale: str) -> list[str]:
    """The bot's own texts, counted group by group: one line each."""
    if not groups:
        return []
    e = _escape
    statuses: list[Status] = [] if catalogue is None else ["reviewed", "unreviewed", "fuzzy", "missing"]
    head = "".join(f'<th scope="col"><span class="badge {s}">{e(BADGES[s][0])}</span></th>' for s in statuses)
    out = [
        '<table class="counts"><caption>The bot\'s own texts, by where they appear</caption>',
        f'<thead><tr><th scope="col">Where</th><th scope="col">Texts</th>{head}</tr></thead>',
        "<tbody>",
    ]
    for number, group in enumerate(groups, start=1):
        cover = coverage_of(catalogue, group.msgids, locale)
        cells = [cover.total] + ([cover.translated, cover.unreviewed, cover.fuzzy, cover.missing] if statuses else [])
        out.append(
            f'<tr><th scope="row"><a href="#texts-{number}">{e(group.title)}</a></th>'
            + "".join(f"<td>{n}</td>" for n in cells)
            + "</tr>"
        )
    return [*out, "</tbody>", "</table>"]


def _escape(value: object) -> str:
    return html.escape(str(value), quote=True)


def _coverage_words(cover: Coverage) -> str:
    if cover.locale == SOURCE_LOCALE:
        return f"{cover.total} texts; French is the source language, nothing to translate"
    return (
        f"{cover.total} texts: {cover.translated} reviewed, {cover.unreviewed} unreviewed, "
        f"{cover.fuzzy} out of date (fuzzy), {cover.missing} not translated"
    )


def _html_table(rows: Iterable[Row], catalogue: Catalogue | None, tr: Translator, language: str) -> list[str]:
    e = _escape
    if catalogue is None:
        out = [
            '<table><colgroup><col class="part"><col></colgroup>',
            '<thead><tr><th scope="col">Part</th><th scope="col">French (source)</th></tr></thead>',
            "<tbody>",
        ]
        out += [
            f'<tr><th class="part" scope="row">{e(r.part)}</th><td class="text" lang="fr">{e(r.msgid)}</td></tr>'
            for r in rows
        ]
        return out + ["</tbody>", "</table>"]
    out = [
        '<table><colgroup><col class="part"><col><col><col class="status"></colgroup>',
        (
            f'<thead><tr><th scope="col">Part</th><th scope="col">French (source)</th>'
            f'<th scope="col">{e(language)}</th><th scope="col">Status</th></tr></thead>'
        ),
        "<tbody>",
    ]
    out += [_html_row(r.part, r.msgid, catalogue, tr) for r in rows]
    return out + ["</tbody>", "</table>"]


def _html_row(part: str, msgid: str, catalogue: Catalogue, tr: Translator) -> str:
    e = _escape
    why = status(catalogue, msgid)
    attrs = _text_attrs(tr) if why in ("reviewed", "unreviewed") else 'lang="fr" dir="ltr"'
    badge = BADGES[why][0]
    return (
        f'<tr class="{why}"><th class="part" scope="row">{e(part)}</th>'
        f'<td class="text" lang="fr">{e(msgid)}</td>'
        f'<td class="text" {attrs}>{e(tr.gettext(msgid))}</td>'
        f'<td class="status"><span class="badge {why}">{e(badge)}</span></td></tr>'
    )


def _text_attrs(tr: Translator) -> str:
    return f'lang="{_escape(tr.locale.replace("_", "-"))}" dir="{"rtl" if tr.rtl else "ltr"}"'


# -- as the person sees it ----------------------------------------------------------------

_TELEGRAM_TAG = re.compile(r"(</?(?:b|i|code)>)")
"""The only tags the bot sends; anything else in a screen is shown as text."""


def _telegram_html(text: str) -> str:
    """Telegram HTML as the sheet's HTML: the bot's tags kept, everything else escaped again."""
    return "".join(
        part if _TELEGRAM_TAG.fullmatch(part) else _escape(html.unescape(part)) for part in _TELEGRAM_TAG.split(text)
    )


def _html_samples(samples: Sequence[SampleScreen], tr: Translator) -> list[str]:
    e = _escape
    out = [
        '<section id="as-seen">',
        '<h2>As the person sees it <span class="kind">— whole screens, assembled by the bot</span></h2>',
        '<p class="note">Names, places, codes and answers marked <span class="sample">SAMPLE</span> are made up '
        "for this sheet. Each line takes its direction from its first letter, as in Telegram.</p>",
        '<div class="screens">',
    ]
    lang = _text_attrs(tr).split(" dir=", 1)[0] + (' class="rtl"' if tr.rtl else "")
    for screen in samples:
        mark = ' <span class="sample">SAMPLE</span>' if screen.note else ""
        out.append(f'<article class="screen"><h3>{e(screen.title)}{mark}</h3>')
        if screen.note:
            out.append(f'<p class="note">{e(screen.note)}</p>')
        # Telegram sets each paragraph's direction by its first strong letter: so does dir="auto".
        lines = "".join(f'<p dir="auto">{_telegram_html(line)}</p>' for line in screen.html.split("\n"))
        out.append(f'<div class="bubble"><div {lang}>{lines}</div></div>')
        keys = "".join(
            "<div>" + "".join(f'<span dir="auto" title="{e(b)}">{e(b)}</span>' for b in row) + "</div>"
            for row in screen.rows
        )
        out.append(f'<div class="keys" {lang}>{keys}</div></article>')
    return [*out, "</div>", "</section>"]
