"""Every screen of every script fits a small phone before its buttons, in every language
(issue 14): people read in a hurry, perhaps with someone nearby, and should not have to scroll.

Screens are rendered by the bot's own renderer (bot.render) with the bot's translators, then
measured as Telegram shows them (HTML parsed) by dialogs.phone_lines: 34 columns a line, wide
characters count two, words wrap whole, each line break starts a line, an empty line counts.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from bot.cli.samples import SAMPLE_MATCH, sample_answers
from bot.handoff import consent_block
from bot.render import render_screen
from dialogs.engine import State
from dialogs.i18n import Catalogs
from dialogs.loader import load_scripts
from dialogs.phone_lines import CONSENT_LINES, PHONE_WIDTH, SCREEN_LINES, phone_lines, shown_lines
from storage.directory.nearest import Match
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


def folded_slices(text: str, entities: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """The (start, end) code-point slices of `text` that Telegram folds (its offsets count UTF-16 units)."""
    index_of, units = {}, 0
    for index, ch in enumerate(text):
        index_of[units] = index
        units += 2 if ord(ch) > 0xFFFF else 1
    index_of[units] = len(text)
    return [
        (index_of[e["offset"]], index_of[e["offset"] + e["length"]])
        for e in entities
        if e["type"] == "expandable_blockquote"
    ]


def consent_screens() -> list[tuple[str, str, list[tuple[int, int]]]]:
    """(label, text as shown) of the consent screen as turn.show_step builds it: what would be
    sent (one answer to each question, two needs) and the recipient, above the script's text.
    The recipient's card at its longest: phone, website and hours, outside the person's
    département (a line says so, and how far), or after a nearer one declined."""
    loaded = SCRIPTS["orientation"]
    engine = loaded.engine({})
    screen = engine.render(State(script="orientation", version=loaded.version, node="consent"))
    assert screen.shows_summary
    answers = sample_answers(engine)
    card = dataclasses.replace(SAMPLE_MATCH.candidate, hours="lun.-ven. 9h-17h, sam. 10h-12h")
    matches = {"in": (SAMPLE_MATCH, False), "outside": (Match(card, 26.3, covers=False), False)}
    matches["next"] = (Match(card, 126.3, covers=False), True)
    shown = []
    for locale in CATALOGS.locales:
        tr = CATALOGS.get(locale)
        for where, (match, sidestepped) in matches.items():
            preamble = consent_block(engine, answers, tr, match, sidestepped=sidestepped)
            rendered = render_screen(screen, tr, loaded.version, None, preamble)
            text, entities = parse_html(rendered.text)
            shown.append((f"consent ({where}):{locale}", text, folded_slices(text, entities)))
    return shown


def test_the_consent_screen_as_shown_keeps_within_its_own_limit() -> None:
    """Folded, it shows about one phone screen (see CONSENT_LINES); unfolded it would not."""
    screens = consent_screens()
    lines = {label: shown_lines(text, folded) for label, text, folded in screens}
    assert len(lines) == 3 * len(CATALOGS.locales)
    assert min(phone_lines(text) for _, text, _ in screens) > SCREEN_LINES, "unfolded, everything is in the message"
    assert min(lines.values()) <= SCREEN_LINES, "the usual case fits one screen"
    too_long = [f"{label}: {count} lines" for label, count in lines.items() if count > CONSENT_LINES]
    assert too_long == [], f"more than {CONSENT_LINES} lines of {PHONE_WIDTH} characters"
