"""Catalogues: complete, in sync with the sources, and falling back to French, never blank."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from dialogs.i18n import LOCALES_DIR, Catalogs, compile_po

ROOT = Path(__file__).resolve().parents[1]


def msgids(path: Path) -> set[str]:
    with path.open("rb") as handle:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}


def test_template_matches_the_sources(tmp_path: Path) -> None:
    """Every string of the code and the scripts is in messages.pot, and nothing stale is."""
    fresh = tmp_path / "fresh.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "N_",
            "-k",
            "NP_:1,2",
            "-o",
            str(fresh),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    assert msgids(fresh) == msgids(LOCALES_DIR / "messages.pot"), "run the extract command in the README"


def test_every_catalogue_has_every_msgid() -> None:
    template = msgids(LOCALES_DIR / "messages.pot")
    catalogues = sorted(LOCALES_DIR.glob("*/LC_MESSAGES/messages.po"))
    assert catalogues, "at least the English catalogue ships"
    for po in catalogues:
        with po.open("rb") as handle:
            catalog = read_po(handle)
        translated = {
            m.id if isinstance(m.id, str) else m.id[0]
            for m in catalog
            if m.id and (all(m.string) if isinstance(m.string, tuple) else m.string)
        }
        assert template <= translated, f"{po.parent.parent.name} lacks {sorted(template - translated)[:3]}"


def test_fuzzy_and_missing_fall_back_to_french(tmp_path: Path) -> None:
    po = tmp_path / "xx.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
        '#, fuzzy\nmsgid "Bonjour"\nmsgstr "Stale hello"\n\n'
        '#, unreviewed\nmsgid "Merci"\nmsgstr "Thanks"\n\n'
        'msgid "Oui"\nmsgstr ""\n',
        encoding="utf-8",
    )
    translations = compile_po(po)
    assert translations.gettext("Bonjour") == "Bonjour", "fuzzy is not served"
    assert translations.gettext("Merci") == "Thanks", "unreviewed is served"
    assert translations.gettext("Oui") == "Oui", "missing falls back to the source"


def test_unknown_locale_gets_the_french_source() -> None:
    catalogs = Catalogs()
    assert catalogs.get("tlh").gettext("Oui") == "Oui"
    assert catalogs.get("en").gettext("Oui") == "Yes"
    assert catalogs.locales[0] == "fr" and "en" in catalogs.locales
