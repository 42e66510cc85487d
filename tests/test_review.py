"""`dialogs.versions` and `dialogs.review`: what moderators read before approving."""

from __future__ import annotations

import datetime as dt
import html
import time
from typing import Any

import pytest
import yaml

from dialogs.extract import extract_script
from dialogs.i18n import Catalogs
from dialogs.loader import ORIENTATION
from dialogs.review.common import NOT_TRANSLATED, UNREVIEWED
from dialogs.review.diff import Change, diff, format_diff
from dialogs.review.sheet import render_html
from dialogs.review.transcript import render_markdown
from dialogs.versions import (
    Catalogue,
    Version,
    catalogue_from_messages,
    catalogue_from_po_text,
    script_msgids,
    version_from_files,
    version_from_source,
)

WHEN = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)
SERVED = Catalogs()
"""The catalogues as the bot compiles and serves them."""


@pytest.fixture(scope="module")
def version() -> Version:
    return version_from_files(ORIENTATION)


def texts(version: Version) -> list[str]:
    return list(dict.fromkeys(msgid for _, msgid in script_msgids(version.script.script)))


def with_catalogue(version: Version, catalogue: Catalogue) -> Version:
    return version_from_source(version.source, "orientation.yaml", {**version.catalogues, catalogue.locale: catalogue})


def edited(version: Version, change: Any) -> Version:
    """The real script with `change(raw)` applied to its YAML, and the same catalogues."""
    raw = yaml.safe_load(version.source)
    change(raw)
    return version_from_source(
        yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), "orientation.yaml", version.catalogues
    )


def node(raw: dict[str, Any], node_id: str) -> dict[str, Any]:
    return next(n for n in raw["nodes"] if n["id"] == node_id)


# -- versions ---------------------------------------------------------------------


def test_script_msgids_are_exactly_what_the_extractor_collects(version: Version) -> None:
    with ORIENTATION.open("rb") as handle:
        extracted = {msgid for _, _, msgid, _ in extract_script(handle, None, None, {})}
    pairs = script_msgids(version.script.script)
    assert {msgid for _, msgid in pairs} == extracted
    assert pairs[0] == ("title", "Orientation")
    assert ("labels", "Retour") in pairs
    assert ("safety", "Êtes-vous en sécurité en ce moment ?") in pairs
    order = list(dict.fromkeys(where for where, _ in pairs if where not in ("title", "labels")))
    assert order == [n.id for n in version.script.script.nodes if n.kind != "route"]


def test_every_language_is_loaded_and_served_strings_are_unreviewed(version: Version) -> None:
    assert sorted(version.catalogues) == sorted(
        ["en", "ro", "bg", "zh_Hans", "es", "pt_BR", "ar", "ru", "uk", "hu", "sq", "pcm"]
    )
    ro = version.catalogues["ro"]
    assert ro.messages["Êtes-vous en sécurité en ce moment ?"] == "Sunteți în siguranță în acest moment?"
    assert set(texts(version)) <= ro.unreviewed <= set(ro.messages)


PO = (
    'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n"Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n\n'
    '#, unreviewed\nmsgid "Oui"\nmsgstr "Yes"\n\n'
    '#, fuzzy\nmsgid "Non"\nmsgstr "No"\n\n'
    'msgid "Merci"\nmsgstr ""\n\n'
    'msgid "{n} réponse"\nmsgid_plural "{n} réponses"\nmsgstr[0] "{n} answer"\nmsgstr[1] "{n} answers"\n'
)


def test_a_catalogue_holds_only_what_is_served() -> None:
    catalogue = catalogue_from_po_text("en", PO)
    assert dict(catalogue.messages) == {"Oui": "Yes", "{n} réponse": "{n} answer"}
    assert dict(catalogue.plurals) == {"{n} réponse": ("{n} answer", "{n} answers")}
    assert catalogue.unreviewed == {"Oui"}
    assert catalogue.fuzzy == {"Non"}


def test_the_digest_ignores_order_and_comments_but_not_translations() -> None:
    base = catalogue_from_po_text("en", PO).digest
    entries = PO.split("\n\n")
    reordered = "\n\n".join([entries[0], "# a translator's note", *reversed(entries[1:])])
    assert catalogue_from_po_text("en", reordered).digest == base
    assert catalogue_from_po_text("en", PO.replace("#, unreviewed\n", "")).digest == base
    assert catalogue_from_po_text("en", PO.replace('"Yes"', '"Yes!"')).digest != base
    assert catalogue_from_po_text("en", PO.replace('"{n} answers"', '"{n} replies"')).digest != base
    snapshot = catalogue_from_messages(
        "en",
        {"{n} réponse": "{n} answer", "Oui": "Yes"},
        unreviewed=["Oui"],
        fuzzy=["Non"],
        plurals={"{n} réponse": ["{n} answer", "{n} answers"]},
    )
    assert snapshot == catalogue_from_po_text("en", PO)


def test_an_edit_to_a_second_plural_form_shows_in_the_diff(version: Version) -> None:
    old = catalogue_from_po_text("en", PO)
    new = catalogue_from_po_text("en", PO.replace('"{n} answers"', '"{n} replies"'))
    (change,) = diff(with_catalogue(version, old), with_catalogue(version, new), locales=["en"])
    assert change.kind == "translation changed" and change.where == "en: {n} réponse"
    assert "(form 2) {n} answers" in (change.before or "") and "(form 2) {n} replies" in (change.after or "")


def test_a_snapshot_that_contradicts_itself_is_refused() -> None:
    with pytest.raises(ValueError):
        catalogue_from_messages("en", {"Oui": "Yes"}, fuzzy=["Oui"])
    with pytest.raises(ValueError):
        catalogue_from_messages("en", {"Oui": "Yes"}, unreviewed=["Non"])


def test_a_snapshot_of_the_files_is_the_same_catalogue(version: Version) -> None:
    for catalogue in version.catalogues.values():
        copy = catalogue_from_messages(
            catalogue.locale, catalogue.messages, catalogue.unreviewed, catalogue.fuzzy, catalogue.plurals
        )
        assert copy == catalogue


# -- the review sheet ------------------------------------------------------------------


@pytest.mark.parametrize("locale", ["ro", "ar"])
def test_the_review_sheet_holds_every_node_in_the_language(version: Version, locale: str) -> None:
    page = render_html(version, locale, generated=WHEN)
    catalogue = version.catalogues[locale]
    direction = "rtl" if locale == "ar" else "ltr"
    for script_node in version.script.script.nodes:
        assert f'id="node-{script_node.id}"' in page
    for msgid in texts(version):
        assert f'<td class="text" lang="fr">{html.escape(msgid)}</td>' in page
        assert msgid in catalogue.messages
        translated = html.escape(SERVED.get(locale).gettext(msgid))  # the bot's own catalogues, isolates included
        assert f'<td class="text" lang="{locale}" dir="{direction}">{translated}</td>' in page
    assert page.count('<tr class="unreviewed">') >= len(texts(version))
    assert "UNREVIEWED: not yet checked by someone who speaks the language" in page


def test_the_review_sheet_header_and_self_containment(version: Version) -> None:
    page = render_html(version, "ar", generated=WHEN)
    count = len(texts(version))
    for expected in (
        "orientation",
        version.script.version,
        "Arabic (ar)",
        "2026-11-29 12:00 UTC",
        f"{count} texts: 0 reviewed, {count} unreviewed",
    ):
        assert expected in page
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    for external in ("<script", "src=", "http://", "https://", "<link"):
        assert external not in page


def test_the_review_sheet_marks_missing_fuzzy_and_escapes(version: Version) -> None:
    ro = version.catalogues["ro"]
    question, unsure, age = "Êtes-vous en sécurité en ce moment ?", "Je ne sais pas", "Quel âge avez-vous ?"
    messages = {k: v for k, v in ro.messages.items() if k not in (question, unsure)}
    messages[age] = "<b>Câți</b> ani & aveți?"
    reviewed = ro.unreviewed - {question, unsure, age}
    page = render_html(
        with_catalogue(version, catalogue_from_messages("ro", messages, reviewed, [unsure], ro.plurals)),
        "ro",
        generated=WHEN,
    )
    assert "&lt;b&gt;Câți&lt;/b&gt; ani &amp; aveți?" in page and "<b>Câți" not in page
    assert (
        f'<tr class="reviewed"><th class="part" scope="row">Text</th><td class="text" lang="fr">{html.escape(age)}'
        in page
    )
    assert (
        f'<tr class="missing"><th class="part" scope="row">Text</th><td class="text" lang="fr">{html.escape(question)}'
        in page
    )
    assert "NOT TRANSLATED: people see the French" in page
    assert "OUT OF DATE (fuzzy): people see the French" in page
    assert "1 reviewed" in page and "1 out of date (fuzzy), 1 not translated" in page


def test_french_is_the_source_and_an_unknown_language_is_refused(version: Version) -> None:
    page = render_html(version, "fr", generated=WHEN)
    assert "French (source language)" in page and "Status" not in page
    with pytest.raises(ValueError, match="no catalogue for 'xx'"):
        render_html(version, "xx")
    with pytest.raises(ValueError):
        render_markdown(version, "xx")


def test_every_language_renders_fast(version: Version) -> None:
    started = time.perf_counter()
    for locale in ["fr", *version.catalogues]:
        render_html(version, locale)
    assert time.perf_counter() - started < 1.0


# -- the transcript ------------------------------------------------------------------------


@pytest.mark.parametrize("locale", ["ro", "ar"])
def test_the_transcript_holds_every_node_in_the_language(version: Version, locale: str) -> None:
    text = render_markdown(version, locale)
    for script_node in version.script.script.nodes:
        assert f"## {script_node.id} — " in text
    for msgid in texts(version):
        assert msgid in version.catalogues[locale].messages
        for line in SERVED.get(locale).gettext(msgid).splitlines():
            assert line in text
    assert UNREVIEWED in text and NOT_TRANSLATED not in text.split("\n## ", 1)[1]
    assert "if age is minor → minor_help; otherwise → needs" in text
    assert (
        "if needs includes shelter → info_shelter; otherwise if needs includes control → info_control; otherwise → location"
        in text
    )
    assert "Button → emergency" in text


def test_the_transcript_shows_french_where_a_translation_is_missing(version: Version) -> None:
    question = "Êtes-vous en sécurité en ce moment ?"
    ro = version.catalogues["ro"]
    messages = {k: v for k, v in ro.messages.items() if k != question}
    text = render_markdown(
        with_catalogue(version, catalogue_from_messages("ro", messages, ro.unreviewed - {question}, (), ro.plurals)),
        "ro",
    )
    safety = text.split("## safety")[1].split("\n## ")[0]
    assert f"Text {NOT_TRANSLATED}:" in safety and f"> {question}" in safety
    french = render_markdown(version, "fr")
    assert f"> {question}" in french and UNREVIEWED not in french and NOT_TRANSLATED not in french


# -- the diff --------------------------------------------------------------------------------


def test_the_same_version_has_no_changes(version: Version) -> None:
    assert diff(version, version) == []
    assert format_diff([]) == "no changes\n"


def test_an_added_node(version: Version) -> None:
    def add(raw: dict[str, Any]) -> None:
        node(raw, "consent")["options"][1]["next"] = "why_not"
        raw["nodes"].append(
            {"id": "why_not", "kind": "info", "text": "Vous pouvez changer d'avis.", "next": "not_sent"}
        )

    changes = diff(version, edited(version, add))
    assert [(c.kind, c.where) for c in changes] == [("node changed", "consent"), ("node added", "why_not")]
    assert (
        changes[0].what == "options"
        and "→ not_sent" in (changes[0].before or "")
        and "→ why_not" in (changes[0].after or "")
    )
    assert changes[1].before is None and "Vous pouvez changer d'avis." in (changes[1].after or "")


def test_a_removed_node(version: Version) -> None:
    def remove(raw: dict[str, Any]) -> None:
        raw["nodes"].remove(node(raw, "info_shelter"))
        node(raw, "shelter_route")["routes"][0]["next"] = "control_route"

    changes = diff(version, edited(version, remove))
    assert [(c.kind, c.where) for c in changes] == [("node changed", "shelter_route"), ("node removed", "info_shelter")]
    assert changes[0].what == "routes"
    assert changes[1].after is None and "115" in (changes[1].before or "")


def test_a_changed_text_and_option(version: Version) -> None:
    def change(raw: dict[str, Any]) -> None:
        safety = node(raw, "safety")
        safety["text"] = "Êtes-vous en sécurité maintenant ?"
        safety["options"][2]["label"] = "Je ne sais pas trop"

    (change_,) = diff(version, edited(version, change))
    assert (change_.kind, change_.where, change_.what) == ("node changed", "safety", "text, options")
    assert "Êtes-vous en sécurité en ce moment ?" in (change_.before or "")
    assert "Je ne sais pas trop" in (change_.after or "")
    report = format_diff([change_])
    assert report.startswith("Script\n  node changed: safety (text, options)")
    assert "was: text: Êtes-vous en sécurité en ce moment ?" in report


def test_a_changed_translation(version: Version) -> None:
    ro = version.catalogues["ro"]
    question = "Êtes-vous en sécurité en ce moment ?"
    new = with_catalogue(
        version,
        catalogue_from_messages(
            "ro", {**ro.messages, question: "Sunteți în siguranță acum?"}, ro.unreviewed, (), ro.plurals
        ),
    )
    changes = diff(version, new)
    assert changes == [
        Change(
            "translation changed",
            f"ro: {question}",
            "Sunteți în siguranță în acest moment?",
            "Sunteți în siguranță acum?",
        )
    ]
    assert diff(version, new, locales=["ar"]) == []
    report = format_diff(changes)
    assert report.startswith("Romanian (ro)\n  translation changed: “Êtes-vous en sécurité en ce moment ?”")
    assert "was: Sunteți în siguranță în acest moment?" in report and "now: Sunteți în siguranță acum?" in report


def test_added_and_removed_translations_are_grouped_by_language(version: Version) -> None:
    ro, ar = version.catalogues["ro"], version.catalogues["ar"]
    dropped = "Quel âge avez-vous ?"
    new = version_from_source(
        version.source,
        "orientation.yaml",
        {
            **version.catalogues,
            "ro": catalogue_from_messages(
                "ro", {k: v for k, v in ro.messages.items() if k != dropped}, ro.unreviewed - {dropped}, (), ro.plurals
            ),
            "ar": catalogue_from_messages("ar", {**ar.messages, "Nouveau": "جديد"}, ar.unreviewed, (), ar.plurals),
        },
    )
    changes = diff(version, new)
    assert [(c.kind, c.where) for c in changes] == [
        ("translation removed", f"ro: {dropped}"),
        ("translation added", "ar: Nouveau"),
    ]
    report = format_diff(changes)
    assert report.index("Romanian (ro)") < report.index("Arabic (ar)")
    assert "Script" not in report


# -- the sheet shows what people see ---------------------------------------------------------


def test_the_arabic_sheet_isolates_commands_as_the_bot_does(version: Version) -> None:
    """ "/start" inside Arabic reads "start/" unless isolated, as the bot's translator does."""
    from dialogs.i18n import FSI, PDI

    page = render_html(version, "ar", generated=WHEN)
    assert f"{FSI}/start{PDI}" in page


def test_the_status_is_a_short_badge_explained_once(version: Version) -> None:
    page = render_html(version, "ar", generated=WHEN)
    assert page.count("not yet checked by someone who speaks the language") == 1
    assert '<td class="status"><span class="badge unreviewed">' in page
