"""`passerelle try`: the script in a terminal, through the same engine and catalogues.

For moderators and newcomers without a Telegram token, and proof that the engine does
not need aiogram. Numbers pick options; `e` shows the emergency screen; `q` quits.

A faithful preview: the consent screen shows what the notice would carry and the
association, built by the bot's own functions (`bot.handoff`); the association is the
nearest of the imported directory (DATABASE_URL), or a sample, marked so; the code shown
after the handoff is always a sample, since a preview creates no ticket.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Callable
from html import unescape
from pathlib import Path
from typing import TextIO

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot import handoff, texts
from bot.cli.samples import SAMPLE_CODE, sample_match, sample_ticket
from bot.config import load_settings
from dialogs.engine import Screen, Step
from dialogs.events import Event, EventOp, TextInput
from dialogs.i18n import Catalogs, Translator
from dialogs.languages import SOURCE_LOCALE, autonym, match_locale
from dialogs.loader import ORIENTATION, load_script
from storage.db import create_engine, sessions
from storage.directory.nearest import Match
from storage.places import PlaceParser
from storage.tickets import reference

SAMPLE_ASSOCIATION_NOTE = (
    "(SAMPLE association: no directory is imported here; `passerelle associations import` fills one, "
    "and DATABASE_URL names it)"
)
SAMPLE_CODE_NOTE = "(SAMPLE code: a preview creates no request; a real handoff shows the person's own code)"
RTL_NOTE = (
    "Note: a terminal cannot show right-to-left text as people see it (words and numbers may appear "
    "in the wrong order). To check {language}, moderators use /preview orientation {locale} in Telegram, "
    "or `passerelle dialogs render --lang {locale} --format html`."
)
_TELEGRAM_TAG = re.compile(r"</?(?:b|i|code|blockquote)(?: expandable)?>")


def plain(html: str) -> str:
    """The bot's Telegram HTML as a terminal shows it: tags dropped, entities decoded."""
    return unescape(_TELEGRAM_TAG.sub("", html))


def format_screen(screen: Screen, tr: Translator, preamble: str = "") -> str:
    """`preamble`: above the text, as on the bot's consent screen (what would be sent, to whom)."""
    _ = tr.gettext
    lines = [""]
    if preamble:
        lines += [preamble, ""]
    if screen.text:
        lines.append(_(screen.text))
    number = 0
    for row in screen.rows:
        for button in row:
            number += 1
            mark = "[x] " if button.selected else ""
            hint = f" · {texts.place_hint(button.hint, tr)}" if button.hint else ""
            lines.append(f"  {number}. {mark}{_(button.label)}{hint}")
    if screen.expects_text:
        lines.append("  ✎ …")
    lines.append(f"  [e] {_(texts.EMERGENCY)}  [q] {_(texts.QUICK_EXIT)}")
    return "\n".join(lines)


def find_recipient(database_url: str, departement: str | None) -> tuple[Match | None, str]:
    """The association the bot would offer, from the imported directory, and a note; without a
    directory (no database, or no association in it), the sample, and a note that says so."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).is_file()):
        return sample_match(departement), SAMPLE_ASSOCIATION_NOTE  # reading would create an empty database

    async def lookup() -> tuple[bool, Match | None]:
        engine = create_engine(database_url)
        try:
            directory = handoff.DirectoryCache(sessions(engine))
            return bool(await directory.candidates()), await directory.find_match(departement)
        finally:
            await engine.dispose()

    try:
        imported, match = asyncio.run(lookup())
    except (SQLAlchemyError, OSError):
        return sample_match(departement), SAMPLE_ASSOCIATION_NOTE
    return (match, "") if imported else (sample_match(departement), SAMPLE_ASSOCIATION_NOTE)


def sample_code_lines(tr: Translator) -> str:
    """The sample code and reference, in the words the handoff screen uses, marked as a sample."""
    _ = tr.gettext  # it isolates {reference} in right-to-left text
    shown_reference = _(texts.YOUR_REFERENCE).format(reference=reference(sample_ticket()))
    return f"{_(texts.YOUR_CODE)} {tr.isolate(SAMPLE_CODE)}  {SAMPLE_CODE_NOTE}\n{shown_reference}"


def walk(lang: str | None, read: Callable[[str], str] = input, out: TextIO = sys.stdout) -> int:
    catalogs = Catalogs()
    locale = match_locale(lang, catalogs.locales) if lang else SOURCE_LOCALE
    if locale is None:
        names = ", ".join(f"{loc} ({autonym(loc)})" for loc in catalogs.locales)
        print(f"Unknown language {lang!r}. Available: {names}", file=out)
        return 2
    tr = catalogs.get(locale)
    if tr.rtl:
        print(RTL_NOTE.format(language=autonym(locale), locale=locale), file=out)
    database_url = load_settings().database_url
    engine = load_script(ORIENTATION).engine({"place": PlaceParser()})
    step: Step = engine.start()
    recipient: tuple[Match | None, str] = (None, SAMPLE_ASSOCIATION_NOTE)
    while True:
        if step.screen.action == "handoff" and recipient[0] is None:  # the bot sends nothing, and says so
            placed = step.state.answers.get("departement")
            why = handoff.no_association(placed if isinstance(placed, str) else None)
            print(f"\n! {tr.gettext(why)}", file=out)
            print(f"\n[not sent] answers: {step.state.answers}", file=out)
            return 0
        if step.notice:
            print(f"\n! {tr.gettext(step.notice)}", file=out)
        preamble = ""
        if step.screen.shows_summary:
            departement = step.state.answers.get("departement")
            recipient = find_recipient(database_url, departement if isinstance(departement, str) else None)
            block = handoff.consent_block(engine, step.state.answers, tr, recipient[0])
            preamble = "\n".join(filter(None, [plain(block), recipient[1]]))
        print(format_screen(step.screen, tr, preamble), file=out)
        if step.screen.action == "handoff":
            match, note = recipient
            if match is not None:
                card = plain(handoff.contact_card(match.candidate, tr))
                print("\n" + "\n\n".join(filter(None, [sample_code_lines(tr), card, note])), file=out)
        if step.screen.action in ("handoff", "end"):
            print(f"\n[{step.screen.action}] answers: {step.state.answers}", file=out)
            return 0
        try:
            answer = read("> ").strip()
        except EOFError:
            return 0
        if answer == "q":
            return 0
        if answer == "e":
            step = engine.handle(step.state, Event(EventOp.EMERGENCY))
            continue
        buttons = [b for row in step.screen.rows for b in row]
        if answer.isdigit() and 1 <= int(answer) <= len(buttons):
            step = engine.handle(step.state, buttons[int(answer) - 1].event)
        elif step.screen.expects_text:
            step = engine.handle(step.state, TextInput(answer))
        else:
            print("  ? choose a number", file=out)
