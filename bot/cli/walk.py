"""`passerelle try`: the script in a terminal, through the same engine and catalogues.

For moderators and newcomers without a Telegram token, and proof that the engine does
not need aiogram. Numbers pick options; `e` shows the emergency screen; `q` quits.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

from bot import texts
from dialogs.engine import Screen, Step
from dialogs.events import Event, TextInput
from dialogs.i18n import Catalogs, Translator
from dialogs.languages import SOURCE_LOCALE, autonym, match_locale
from dialogs.loader import ORIENTATION, load_script
from storage.places import PlaceParser


def format_screen(screen: Screen, tr: Translator) -> str:
    _ = tr.gettext
    lines = [""]
    for line in screen.summary:
        values = [_(v) if line.translate_values else v for v in line.values]
        lines.append(f"  • {_(line.label)} : {', '.join(values)}")
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


def walk(lang: str | None, read: Callable[[str], str] = input, out: TextIO = sys.stdout) -> int:
    catalogs = Catalogs()
    locale = match_locale(lang, catalogs.locales) if lang else SOURCE_LOCALE
    if locale is None:
        names = ", ".join(f"{loc} ({autonym(loc)})" for loc in catalogs.locales)
        print(f"Unknown language {lang!r}. Available: {names}", file=out)
        return 2
    tr = catalogs.get(locale)
    engine = load_script(ORIENTATION).engine({"place": PlaceParser()})
    step: Step = engine.start()
    while True:
        if step.notice:
            print(f"\n! {tr.gettext(step.notice)}", file=out)
        print(format_screen(step.screen, tr), file=out)
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
            step = engine.handle(step.state, Event("e"))
            continue
        buttons = [b for row in step.screen.rows for b in row]
        if answer.isdigit() and 1 <= int(answer) <= len(buttons):
            step = engine.handle(step.state, buttons[int(answer) - 1].event)
        elif step.screen.expects_text:
            step = engine.handle(step.state, TextInput(answer))
        else:
            print("  ? choose a number", file=out)
