"""The bot's side of the review sheet: its own texts by where they appear, and whole screens.

`dialogs` renders the sheet and never imports the bot, so the bot hands it what only the
bot knows: the sections of `bot/texts.py`, and the consent, handoff, emergency and mailbox
screens assembled by the bot's own functions with sample data. Those functions need
aiogram, imported inside `sample_screens` so the command line starts without it.
"""

from __future__ import annotations

import inspect
import re
from html import escape
from typing import Any

from bot import handoff, texts
from bot.cli.samples import SAMPLE_ASSOCIATION, SAMPLE_CODE, SAMPLE_MATCH, sample_answers, sample_ticket
from dialogs.engine import State
from dialogs.review.sheet import SampleScreen, TextGroup
from dialogs.versions import Version
from storage.places import PlaceParser

_SECTION = re.compile(r"[.:]( |$)")
"""A section comment's title ends at its first full stop or colon."""
_MSGID = re.compile(r"([A-Z][A-Z0-9_]*) = N?P?_\(")
_TABLE = re.compile(r"([A-Z][A-Z0-9_]*) = \{$")
_ENTRY = re.compile(r'\s+"(\w+)": N_\(')
"""A table of msgids (`PLACE_HINTS = {`), and one of its entries (`    "near": N_(`)."""


def text_groups() -> list[TextGroup]:
    """The msgids of `bot/texts.py`, under the section comments written next to them."""
    groups: dict[str, list[str]] = {}
    title = "Texts of the bot"
    previous = ""
    table: re.Match[str] | None = None
    for line in inspect.getsource(texts).splitlines():
        if line.startswith("# ") and not line.startswith("# TRANSLATORS") and not previous.strip():
            title = _SECTION.split(line[2:], maxsplit=1)[0]
        table = _TABLE.match(line) or table
        match, entry = _MSGID.match(line), _ENTRY.match(line)
        if match:
            value: Any = getattr(texts, match.group(1))
            groups.setdefault(title, []).append(value[0] if isinstance(value, tuple) else value)
        elif entry and table:
            groups.setdefault(title, []).append(getattr(texts, table.group(1))[entry.group(1)])
        previous = line
    return [TextGroup(name, tuple(msgids)) for name, msgids in groups.items()]


def sample_screens(version: Version, locale: str) -> list[SampleScreen]:
    """The consent, handoff, emergency and mailbox screens, assembled as the bot assembles them."""
    from bot.conversation import mailbox
    from bot.conversation.turn import code_lines, mailbox_buttons
    from bot.render import Rendered, button, footer, render_screen
    from dialogs.events import Event, EventOp
    from dialogs.review.common import translator

    tr = translator(version, locale)
    engine = version.script.engine({"place": PlaceParser()})
    script = engine.script
    consent_node = next((n for n in script.nodes if n.show_summary), None)
    if consent_node is None:
        return []
    answers = sample_answers(engine)
    consent = State(script=script.id, version=engine.version, node=consent_node.id, answers=answers)
    code = code_lines(tr, SAMPLE_CODE, sample_ticket())

    def shown(title: str, rendered: Rendered, note: str = "") -> SampleScreen:
        rows = tuple(tuple(b.text for b in row) for row in rendered.markup.inline_keyboard)
        return SampleScreen(title, rendered.text, rows, note)

    preamble = handoff.consent_block(engine, answers, tr, SAMPLE_MATCH)
    screens = [
        shown(
            "Consent",
            render_screen(engine.render(consent), tr, engine.version, None, preamble),
            "The answers, the département and the association are samples.",
        )
    ]
    sent = next(
        (
            step
            for row in engine.render(consent).rows
            for b in row
            if (step := engine.handle(consent, b.event)).screen.action == "handoff"
        ),
        None,
    )
    if sent is not None:
        rendered = render_screen(sent.screen, tr, engine.version, None).extended(
            f"{code}\n\n{handoff.contact_card(SAMPLE_ASSOCIATION, tr)}", mailbox_buttons(tr, answer=False), first=True
        )
        screens.append(
            shown("Handoff: request sent", rendered, "The code, the reference and the association are samples.")
        )
    screens.append(
        shown(
            "Emergency (its button is on every screen)",
            render_screen(engine.handle(consent, Event(EventOp.EMERGENCY)).screen, tr, engine.version),
        )
    )
    _ = tr.gettext
    lines = [code, escape(_(handoff.STATUS_TEXT["delivered"])), escape(_(texts.NO_REPLY_YET))]
    page = mailbox.render_page(tr, lines, [], 0)
    rows = [*mailbox_buttons(tr, answer=True), [button(_(script.labels.restart), "r")], footer(tr, engine.version)]
    screens.append(
        shown("Mailbox (the code typed later)", Rendered.of(page.text, rows), "No reply yet; the code is a sample.")
    )
    return screens
