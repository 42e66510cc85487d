"""Every screen of every script fits a small phone before its buttons, in every language
(issue 14): people read in a hurry, perhaps with someone nearby, and should not have to scroll.

Screens are rendered by the bot's own renderer (bot.render) with the bot's translators, then
measured as Telegram shows them (HTML parsed) by dialogs.phone_lines: 34 columns a line, wide
characters count two, words wrap whole, each line break starts a line, an empty line counts.
"""

from __future__ import annotations

from bot.render import render_screen
from dialogs.engine import State
from dialogs.i18n import Catalogs
from dialogs.loader import load_scripts
from dialogs.phone_lines import PHONE_WIDTH, SCREEN_LINES, phone_lines
from tests.support.fake_telegram.parse_mode import parse_html

CATALOGS = Catalogs()
SCRIPTS = load_scripts()


def screens() -> list[tuple[str, str, str]]:
    """(script, node, text as shown) for every shown node, in every language; an input node
    also as shown after a place was not understood (its error above it)."""
    shown = []
    for name, loaded in SCRIPTS.items():
        engine = loaded.engine({})
        for node in loaded.script.nodes:
            if node.kind == "route":
                continue
            screen = engine.render(State(script=name, version=loaded.version, node=node.id))
            notices = [None, node.error] if node.error else [None]
            for locale in CATALOGS.locales:
                for notice in notices:
                    rendered = render_screen(screen, CATALOGS.get(locale), loaded.version, notice)
                    label = f"{name}:{node.id}{' (not understood)' if notice else ''}:{locale}"
                    shown.append((label, locale, parse_html(rendered.text)[0]))
    return shown


def test_the_measure_wraps_words_and_counts_wide_characters_twice() -> None:
    assert phone_lines("a" * PHONE_WIDTH) == 1
    assert phone_lines("a" * (PHONE_WIDTH + 1)) == 2, "a word longer than a line is cut"
    assert phone_lines("word " * 7 + "end") == 2, "34 columns: 'word ' x 6 plus 'word' fill one line"
    assert phone_lines("one\n\ntwo") == 3, "an empty line takes a line"
    assert phone_lines("您" * 17) == 1 and phone_lines("您" * 18) == 2, "a Chinese character takes two columns"
    assert phone_lines("Allô\u00a0Enfance\u00a0en\u00a0Danger " * 2) == 2, "a non-breaking space does not break"


def test_every_screen_is_measured_in_every_language() -> None:
    assert len(CATALOGS.locales) == 13
    assert {label.split(":")[1] for label, _, _ in screens()} >= {"privacy", "info_exit", "location", "consent"}


def test_every_screen_fits_a_phone_before_its_buttons() -> None:
    too_long = [
        f"{label}: {phone_lines(text)} lines" for label, _, text in screens() if phone_lines(text) > SCREEN_LINES
    ]
    assert too_long == [], f"more than {SCREEN_LINES} lines of {PHONE_WIDTH} characters"
