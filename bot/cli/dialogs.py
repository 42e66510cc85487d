"""`passerelle dialogs …`: what moderators use to read, compare, try and approve scripts.

lint, render and diff work on files and need no database; approve, history and rollback
record staff decisions in it (and approve also writes the release record).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.moderation import SCRIPT_ID, approved_version, po_text
from dialogs.i18n import LOCALES_DIR
from dialogs.lint import lint
from dialogs.loader import SCRIPTS_DIR, ScriptInvalid
from dialogs.record import RECORD, Entry, read_record, write_record
from dialogs.review.diff import diff, format_diff
from dialogs.review.sheet import render_html
from dialogs.review.transcript import render_markdown
from dialogs.versions import CatalogueInvalid, Version, version_from_files
from storage import approvals
from storage.db import create_engine, ensure_schema, sessions


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dialogs = commands.add_parser("dialogs", help="review, compare and approve scripts and translations")
    actions = dialogs.add_subparsers(dest="dialogs_action", required=True)
    check = actions.add_parser("lint", help="every problem in a script and its catalogues, with a fix hint")
    check.add_argument("script", nargs="?", default=SCRIPT_ID)
    render = actions.add_parser("render", help="a readable transcript in one language")
    render.add_argument("script", nargs="?", default=SCRIPT_ID)
    render.add_argument("--lang", default="fr")
    render.add_argument("--version", default="files", help="files (default), approved, or an approved hash")
    render.add_argument("--format", choices=("md", "html"), default="md")
    render.add_argument("-o", "--output", type=Path, help="write to this file instead of the screen")
    compare = actions.add_parser("diff", help="what changed, node by node and language by language")
    compare.add_argument("old", nargs="?", default="approved")
    compare.add_argument("new", nargs="?", default="files")
    compare.add_argument("--script", default=SCRIPT_ID)
    approve = actions.add_parser("approve", help="approve the files as they are; people are served them")
    approve.add_argument("script")
    approve.add_argument("--lang", default="all", help="comma-separated locales, or all")
    approve.add_argument("--by", required=True, help="your name (kept: moderators are staff)")
    approve.add_argument("--note", default="")
    approve.add_argument("--record", type=Path, default=RECORD, help=argparse.SUPPRESS)
    actions.add_parser("history", help="every approval, rejection and rollback")
    back = actions.add_parser("rollback", help="serve an earlier approved version again")
    back.add_argument("script")
    back.add_argument("--to", required=True, help="the approved hash (the first 8 characters are enough)")
    back.add_argument("--lang", default=None, help="roll back one language's catalogue instead of the script")
    back.add_argument("--by", required=True)
    back.add_argument("--note", default="")


def script_path(script: str) -> Path:
    return SCRIPTS_DIR / f"{script}.yaml"


async def run(args: argparse.Namespace, database_url: str) -> int:
    action = args.dialogs_action
    if action == "lint":
        findings = lint(script_path(args.script), LOCALES_DIR)
        for finding in findings:
            print(finding)
        print(f"{len(findings)} problem(s)" if findings else "no problems")
        return 1 if findings else 0
    engine = create_engine(database_url)
    try:
        await ensure_schema(engine)
        db = sessions(engine)
        if action == "render":
            version = await resolve(db, args.script, args.version)
            try:
                text = _sheet(version, args.lang) if args.format == "html" else render_markdown(version, args.lang)
            except ValueError as exc:  # an unknown language: say which exist
                print(f"passerelle: {exc}", file=sys.stderr)
                return 2
            if args.output:
                args.output.write_text(text, encoding="utf-8")
                print(f"wrote {args.output}")
            else:
                print(text)
            return 0
        if action == "diff":
            old, new = await resolve(db, args.script, args.old), await resolve(db, args.script, args.new)
            print(format_diff(diff(old, new)))
            return 0
        if action == "approve":
            return await _approve(db, args)
        if action == "history":
            async with db() as session:
                for event in await approvals.history(session):
                    print(
                        f"{event.id:>4}  {event.created_at:%Y-%m-%d %H:%M}  {event.action:<8} {event.script_id}/"
                        f"{event.subject:<8} {event.digest[:8]}  by {event.moderator}"
                        + (f"  — {event.note}" if event.note else "")
                    )
            return 0
        if action == "rollback":
            return await _rollback(db, args)
    finally:
        await engine.dispose()
    return 2


def _sheet(version: Version, locale: str) -> str:
    """The review sheet, with what only the bot knows: its texts by place, and whole screens."""
    from bot.cli.sheet import sample_screens, text_groups  # assembling screens needs aiogram

    return render_html(version, locale, groups=text_groups(), samples=sample_screens(version, locale))


async def resolve(db: async_sessionmaker[AsyncSession], script: str, which: str) -> Version:
    """`files`, `approved`, or an approved script hash (catalogues: the ones approved now)."""
    if which == "files":
        return version_from_files(script_path(script))
    version = await approved_version(db, script, None if which == "approved" else which)
    if version is None:
        raise SystemExit(f"passerelle: no approved version {which} of {script}")
    return version


async def _approve(db: async_sessionmaker[AsyncSession], args: argparse.Namespace) -> int:
    try:
        version = version_from_files(script_path(args.script))
    except (ScriptInvalid, CatalogueInvalid) as exc:
        for problem in exc.problems:
            print(f"passerelle: {problem}", file=sys.stderr)
        print("passerelle: nothing was approved: fix the problems above first", file=sys.stderr)
        return 1
    wanted = (
        sorted(version.catalogues)
        if args.lang == "all"
        else [loc.strip() for loc in args.lang.split(",") if loc.strip()]
    )
    unknown = [loc for loc in wanted if loc not in version.catalogues]
    if unknown:
        print(f"passerelle: no catalogue for {', '.join(unknown)}; nothing was approved", file=sys.stderr)
        return 1
    script = version.script
    at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    record = read_record(args.record)
    async with db.begin() as session:
        if await approvals.approve(
            session, script.script.id, approvals.SCRIPT, script.digest, version.source, args.by, args.note
        ):
            print(f"{script.script.id} script {script.version}: approved")
            record.script[script.script.id] = Entry(script.digest, args.by, at, args.note)
        else:
            print(f"{script.script.id} script {script.version}: already approved, nothing to do")
        for locale in wanted:
            catalogue = version.catalogues[locale]
            if await approvals.approve(
                session, script.script.id, locale, catalogue.digest, po_text(locale), args.by, args.note
            ):
                print(f"{locale} catalogue {catalogue.digest[:8]}: approved")
                record.catalogues.setdefault(script.script.id, {})[locale] = Entry(
                    catalogue.digest, args.by, at, args.note
                )
            else:
                print(f"{locale} catalogue {catalogue.digest[:8]}: already approved, nothing to do")
    if script.script.id in record.script:
        write_record(record, args.record)
    return 0


async def _rollback(db: async_sessionmaker[AsyncSession], args: argparse.Namespace) -> int:
    subject = args.lang or approvals.SCRIPT
    async with db.begin() as session:
        matches = await approvals.approved_matching(session, args.script, subject, args.to)
        if len(matches) != 1:
            print(
                f"passerelle: {args.to} names {len(matches)} approved versions of {args.script}/{subject}",
                file=sys.stderr,
            )
            return 1
        digest = matches.pop()
        await approvals.rollback(session, args.script, subject, digest, args.by, args.note)
    print(f"{args.script}/{subject}: serving {digest[:8]} again")
    return 0
