"""`passerelle translations extract|update|compile|coverage`: the translators' workflow.

The bot compiles catalogues in memory when it starts, so `compile` here only checks that
every catalogue compiles; nothing it writes is ever served.
"""

from __future__ import annotations

import argparse

from babel.messages.frontend import CommandLineInterface

from dialogs.i18n import DOMAIN, LOCALES_DIR, compile_po, coverage
from dialogs.languages import autonym

ROOT = LOCALES_DIR.parent
TEMPLATE = LOCALES_DIR / f"{DOMAIN}.pot"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    translations = commands.add_parser("translations", help="extract, update, compile and report catalogues")
    actions = translations.add_subparsers(dest="translations_action", required=True)
    actions.add_parser("extract", help="collect every script and code string into locales/messages.pot")
    actions.add_parser("update", help="merge the template into every .po (new strings arrive empty)")
    actions.add_parser("compile", help="check that every catalogue compiles")
    actions.add_parser("coverage", help="translated / unreviewed / fuzzy / missing, per language")


def _babel(*args: str) -> None:
    CommandLineInterface().run(["pybabel", "-q", *args])  # type: ignore[no-untyped-call]  # Babel's CLI is untyped


def run(args: argparse.Namespace) -> int:
    action = args.translations_action
    if action == "extract":
        _babel(
            "extract",
            "-F",
            str(ROOT / "babel.cfg"),
            "-k",
            "N_",
            "-k",
            "NP_:1,2",
            "-c",
            "TRANSLATORS:",
            "--sort-by-file",
            "--no-location",
            "--project=Passerelle",
            "--copyright-holder=Passerelle contributors",
            "-o",
            str(TEMPLATE),
            str(ROOT),
        )
        print(f"wrote {TEMPLATE.relative_to(ROOT)}")
    elif action == "update":
        _babel("update", "-i", str(TEMPLATE), "-d", str(LOCALES_DIR), "--no-fuzzy-matching")
        print("updated every catalogue: new or changed strings arrive empty, to translate")
    elif action == "compile":
        for po in sorted(LOCALES_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
            compile_po(po)
            print(f"{po.relative_to(ROOT)}: ok")
    elif action == "coverage":
        print(coverage_table())
    return 0


def coverage_table() -> str:
    header = f"{'language':<24}{'translated':>11}{'unreviewed':>11}{'fuzzy':>7}{'missing':>9}"
    lines = [header, "-" * len(header)]
    for row in coverage():
        name = f"{row.locale} ({autonym(row.locale)})"
        lines.append(f"{name:<24}{row.translated:>11}{row.unreviewed:>11}{row.fuzzy:>7}{row.missing:>9}")
    return "\n".join(lines)
