"""`dialogs.lint`: every defect a moderator can make is reported plainly, never raised."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialogs.i18n import LOCALES_DIR
from dialogs.lint import Finding, lint
from dialogs.loader import ORIENTATION
from dialogs.versions import CatalogueInvalid, catalogue_from_po, version_from_files

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "lint"
PO = "locales/ro/LC_MESSAGES/messages.po"


def test_the_real_script_and_catalogues_lint_clean() -> None:
    assert lint(ORIENTATION, LOCALES_DIR) == []


@pytest.mark.parametrize(
    ("fixture", "where", "message"),
    [
        ("unknown_reference", "hello", "leads to unknown node 'nowhere'"),
        ("unreachable", "orphan", "unreachable node"),
        ("duplicate_id", "help", "duplicate node id"),
        ("long_callback", "hello_this_node_id_is_very_long_", "button data over 64 bytes"),
        ("long_text", "help", "text over 4096 characters"),
        ("syntax_error", None, "YAML syntax error"),
    ],
)
def test_each_script_defect_is_one_finding(fixture: str, where: str | None, message: str, tmp_path: Path) -> None:
    findings = lint(FIXTURES / f"{fixture}.yaml", tmp_path)
    assert len(findings) == 1, findings
    (finding,) = findings
    assert finding.file == f"{fixture}.yaml"
    assert finding.where == where
    assert message in finding.message
    assert finding.hint


def test_dead_ends_are_reported_in_node_order(tmp_path: Path) -> None:
    findings = lint(FIXTURES / "dead_end.yaml", tmp_path)
    assert [(f.where, f.message) for f in findings] == [
        ("spin", "dead end: no way on to an ending"),
        ("spin_again", "dead end: no way on to an ending"),
    ]


def test_a_missing_script_file_is_a_finding_not_an_exception(tmp_path: Path) -> None:
    (finding,) = lint(tmp_path / "absent.yaml", tmp_path)
    assert "does not exist" in finding.message


def test_a_broken_catalogue_lists_every_problem_in_order() -> None:
    findings = lint(FIXTURES / "tiny.yaml", FIXTURES / "locales")
    assert {f.file for f in findings} == {PO}, "the script itself is clean"
    assert [f.where for f in findings] == [None, "hello", "help", "bye", "hello", "Votre code : {code}"]
    syntax, fuzzy, untranslated, absent, button, placeholder = findings

    assert "line 63" in syntax.message and "not properly quoted" in syntax.message
    assert "Romanian" in syntax.message

    assert '"Bonjour, ça va ?"' in fuzzy.message and "fuzzy" in fuzzy.message and "Romanian" in fuzzy.message
    assert "remove 'fuzzy'" in fuzzy.hint

    assert '"Appelez le 17."' in untranslated.message and "not translated" in untranslated.message
    assert untranslated.hint == f"translate it in {PO}"
    assert "Romanian (ro)" in untranslated.message

    assert '"Au revoir."' in absent.message and "not in the catalogue" in absent.message
    assert absent.hint.endswith(f"translate it in {PO}")

    assert "Non, j'ai besoin d'aide" in button.message and "46 characters" in button.message
    assert "40" in button.hint

    assert "{cod}" in placeholder.message and "{code}" in placeholder.message


def test_unreviewed_is_not_a_lint_error() -> None:
    findings = lint(FIXTURES / "tiny.yaml", FIXTURES / "locales")
    assert not any('"Petit"' in f.message or '"Oui"' in f.message for f in findings)


def test_finding_reads_like_a_loader_problem() -> None:
    finding = Finding("orientation.yaml", "safety", "leads to unknown node 'x'", "fix the 'next' id")
    assert str(finding) == "orientation.yaml [safety]: leads to unknown node 'x' (fix: fix the 'next' id)"
    assert str(Finding("a.po", None, "broken", "")) == "a.po: broken"


def test_loading_a_broken_catalogue_raises_with_the_same_problem() -> None:
    with pytest.raises(CatalogueInvalid) as caught:
        catalogue_from_po(FIXTURES / PO)
    (problem,) = caught.value.problems
    assert problem.file == PO and "line 63" in problem.message
    with pytest.raises(CatalogueInvalid):
        version_from_files(FIXTURES / "tiny.yaml", FIXTURES / "locales")


def test_quoting_and_duplicates_that_babel_accepts_are_caught(tmp_path: Path) -> None:
    po = tmp_path / "locales" / "xx" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
        'msgid "Oui"\nmsgstr "Da"\n\n'
        'msgid "Oui"\nmsgstr "Yes"\n\n'
        'msgid "Non"\nmsgstr "Il a dit "non""\n\n'
        'msgid "Merci"\nmsgstrr "Thanks"\n',
        encoding="utf-8",
    )
    with pytest.raises(CatalogueInvalid) as caught:
        catalogue_from_po(po)
    messages = [p.message for p in caught.value.problems]
    assert any("line 8" in m and "line 5" in m for m in messages), messages
    assert any("line 12" in m and "not properly quoted" in m for m in messages), messages
    assert any("line 15" in m for m in messages), messages
    assert all(p.hint for p in caught.value.problems)


def test_a_translation_is_measured_as_telegram_measures_it(tmp_path: Path) -> None:
    """2,049 emoji are 2,049 code points but 4,098 UTF-16 units: over Telegram's limit."""
    po = tmp_path / "locales" / "ro" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    entries = {"Bonjour, ça va ?": "😀" * 2049, "Appelez le 17.": "Sunați la 17.", "Au revoir.": "La revedere."}
    entries |= {
        m: m for m in ("Petit", "Oui", "Non, j'ai besoin d'aide", "Retour", "Continuer", "Valider", "Recommencer")
    }
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
        + "".join(f'msgid "{m}"\nmsgstr "{t}"\n\n' for m, t in entries.items()),
        encoding="utf-8",
    )
    messages = [f.message for f in lint(FIXTURES / "tiny.yaml", tmp_path / "locales")]
    assert any("4098 characters" in m and "at most 4096" in m for m in messages), messages
