"""`passerelle associations ...`: the operator's commands for the directory and enrollment.

No aiogram here: these commands must start in a blink.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from storage.coverage import audit
from storage.db import create_engine, ensure_schema, sessions
from storage.directory.csvfile import DirectoryErrors, export_csv, import_csv, list_associations
from storage.directory.enrollment import ENROLLMENT_VALIDITY, UnknownAssociation, create_enrollment_code, unenroll
from storage.directory.nearest import load_candidates
from storage.models import Association
from storage.places import places

_NAME_WIDTH = 40
_DEPARTEMENTS_SHOWN = 6


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `associations` and its sub-commands to the `passerelle` parser."""
    parser = commands.add_parser("associations", help="the directory of associations, and their Telegram chats")
    actions = parser.add_subparsers(dest="associations_action", required=True)
    imported = actions.add_parser("import", help="import or update the directory from CSV (all rows or none)")
    imported.add_argument("file", type=Path, metavar="FILE.csv")
    actions.add_parser("list", help="show the directory and which associations are enrolled")
    exported = actions.add_parser("export", help="write the directory as CSV (stdout by default)")
    exported.add_argument("-o", "--output", type=Path, default=None, metavar="FILE", help="write to FILE instead")
    enrolled = actions.add_parser("enroll", help="make a one-time code that binds a team's Telegram group")
    enrolled.add_argument("slug")
    unenrolled = actions.add_parser("unenroll", help="unbind an association's Telegram chat")
    unenrolled.add_argument("slug")
    checked = actions.add_parser(
        "check",
        help="accreditations ending or ended, associations paused or unreachable, départements with none; "
        "exits 1 when any is found (for cron)",
    )
    checked.add_argument(
        "--on", type=_date, default=None, metavar="YYYY-MM-DD", help="check as of this date (default: today)"
    )


async def run(args: argparse.Namespace, database_url: str) -> int:
    """Run one `associations` sub-command; 0 on success, 1 when nothing was done."""
    engine = create_engine(database_url)
    try:
        await ensure_schema(engine)
        async with sessions(engine).begin() as session:  # one command, one transaction
            return await _dispatch(args, session)
    finally:
        await engine.dispose()


async def _dispatch(args: argparse.Namespace, session: AsyncSession) -> int:
    action = args.associations_action
    try:
        if action == "import":
            return await _import(session, args.file)
        if action == "list":
            return _list(await list_associations(session), await _enrolled_slugs(session))
        if action == "export":
            return await _export(session, args.output)
        if action == "enroll":
            return await _enroll(session, args.slug)
        if action == "unenroll":
            return await _unenroll(session, args.slug)
        if action == "check":
            return await _check(session, args.on or dt.date.today())  # noqa: DTZ011  (local calendar date, as in _list)
    except UnknownAssociation as exc:
        _fail(str(exc))
        return 1
    raise ValueError(f"unknown associations action {action!r}")


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date written YYYY-MM-DD") from None


async def _check(session: AsyncSession, today: dt.date) -> int:
    found = await audit(session, today, places())
    for line in found.lines():
        print(line)
    if not found.problems():
        print(f"{today.isoformat()}: nothing to report")
        return 0
    return 1


def _fail(message: str) -> None:
    print(f"passerelle: {message}", file=sys.stderr)


async def _import(session: AsyncSession, file: Path) -> int:
    try:
        data = file.read_bytes()
    except OSError as exc:
        _fail(f"cannot read {file}: {exc.strerror or exc}")
        return 1
    try:
        result = await import_csv(session, data)
    except DirectoryErrors as exc:
        for error in exc.errors:
            print(f"{file}: {error}", file=sys.stderr)
        _fail(f"{len(exc.errors)} error(s): nothing was imported")
        return 1
    for line in result.summary():
        print(line)
    return 0


async def _enrolled_slugs(session: AsyncSession) -> set[str]:
    return {candidate.slug for candidate in await load_candidates(session) if candidate.enrolled}


def _list(associations: list[Association], enrolled: set[str]) -> int:
    if not associations:
        print("The directory is empty: import one with `passerelle associations import FILE.csv`.")
        return 0
    today = dt.date.today()  # noqa: DTZ011  (an accreditation ends on a French calendar date: the local one)
    header = ("slug", "name", "départements", "accredited until", "intake open", "enrolled")
    rows = [header] + [_row(association, association.slug in enrolled, today) for association in associations]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


def _row(association: Association, enrolled: bool, today: dt.date) -> tuple[str, ...]:
    until = association.accredited_until.isoformat()
    if association.accredited_until < today:
        until += " EXPIRED"
    name = association.name
    if len(name) > _NAME_WIDTH:
        name = name[: _NAME_WIDTH - 1] + "…"
    codes = association.departements
    shown = " ".join(codes[:_DEPARTEMENTS_SHOWN])
    if len(codes) > _DEPARTEMENTS_SHOWN:
        shown += f" (+{len(codes) - _DEPARTEMENTS_SHOWN})"
    return (
        association.slug,
        name,
        shown,
        until,
        "yes" if association.intake_open else "no",
        "unreachable" if association.unreachable_since else "yes" if enrolled else "no",
    )


async def _export(session: AsyncSession, output: Path | None) -> int:
    text = await export_csv(session)
    if output is None:
        sys.stdout.write(text)
        return 0
    # With a BOM, Excel reads the accents right; the import accepts it.
    output.write_text(text, encoding="utf-8-sig", newline="")
    print(f"wrote {output}", file=sys.stderr)
    return 0


async def _enroll(session: AsyncSession, slug: str) -> int:
    code = await create_enrollment_code(session, slug)
    hours = int(ENROLLMENT_VALIDITY.total_seconds() // 3600)
    print(
        f"Give this code to the team of {slug}. Someone of the team adds the bot to the team's Telegram group, "
        f"then sends `/enroll {code}` in that group. Valid {hours} hours, single use; any earlier code is void."
    )
    print(code)
    _warn_if_ineligible(slug, await list_associations(session))
    return 0


def _warn_if_ineligible(slug: str, associations: list[Association]) -> None:
    """An enrolled team that gets no handoffs would wonder why: say so now (stderr: the code stays last)."""
    association = next((a for a in associations if a.slug == slug), None)
    if association is None:
        return
    if association.accredited_until < dt.date.today():  # noqa: DTZ011  (local calendar date, as in _list)
        _fail(f"note: the accreditation of {slug} ended on {association.accredited_until}: no handoff until updated")
    if not association.intake_open:
        _fail(f"note: {slug} has intake closed in the directory: no handoff until it is open")


async def _unenroll(session: AsyncSession, slug: str) -> int:
    canceled = await unenroll(session, slug)
    if canceled is not None:
        print(
            f"{slug}: unenrolled; its chat no longer receives notices. {canceled} message(s) waiting for it were "
            "canceled; its open requests pass on to the next association within 10 minutes (the running bot does it)"
        )
    else:
        print(f"{slug}: was not enrolled; pending codes, if any, are void")
    return 0
