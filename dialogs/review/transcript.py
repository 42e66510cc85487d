"""The transcript: every node in script order, in one language, as Markdown to read through."""

from __future__ import annotations

from dialogs.i18n import Translator
from dialogs.review.common import (
    NOT_TRANSLATED,
    UNREVIEWED,
    Status,
    check_locale,
    flow,
    heading,
    node_rows,
    script_rows,
    status,
    translator,
)
from dialogs.versions import Catalogue, Version, language_name


def render_markdown(version: Version, locale: str) -> str:
    """A transcript of every node in script order, in one language, for reading through."""
    catalogue = check_locale(version, locale)
    tr = translator(version, locale)
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
    out += [f"- {row.part}: {_md_inline(catalogue, tr, row.msgid)}" for row in script_rows(script)]
    for node in script.nodes:
        out += ["", f"## {node.id} — {heading(node)}", ""]
        if node.comment:
            out += [f"*Note for translators: {node.comment}*", ""]
        rows = node_rows(node, script)
        if rows and rows[0].msgid == node.text:
            text = tr.gettext(node.text)
            out += [f"{rows[0].part}{_marker(status(catalogue, node.text))}:", ""]
            out += [f"> {line}  " if line else ">" for line in text.splitlines()]
            out.append("")
            rows = rows[1:]
        out += [f"- {row.part}: {_md_inline(catalogue, tr, row.msgid)}" for row in rows]
        if rows:
            out.append("")
        if lines := flow(node, script):
            out.append(" ".join(lines))
        elif out[-1] == "":
            out.pop()
    return "\n".join(out).rstrip() + "\n"


def _marker(why: Status) -> str:
    return {"unreviewed": f" {UNREVIEWED}", "fuzzy": f" {NOT_TRANSLATED}", "missing": f" {NOT_TRANSLATED}"}.get(why, "")


def _md_inline(catalogue: Catalogue | None, tr: Translator, msgid: str) -> str:
    return " / ".join(tr.gettext(msgid).splitlines()) + _marker(status(catalogue, msgid))
