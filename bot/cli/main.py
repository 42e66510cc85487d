"""`passerelle`: the one command operators, moderators and developers use."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from bot.cli import associations as cli_associations
from bot.cli import dialogs as cli_dialogs
from bot.cli import outbox as cli_outbox
from bot.cli import report as cli_report
from bot.cli import translations as cli_translations
from bot.config import ConfigError, load_settings
from bot.moderation import NotApproved
from dialogs.loader import ScriptInvalid
from storage.db import SchemaOutdated


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="passerelle", description="Anonymous orientation bot.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run",
        help="run the bot (long polling, or a webhook server); needs BOT_TOKEN",
        description="Run the bot. By default it polls Telegram; with --webhook, or WEBHOOK_URL set, it serves "
        "a webhook instead.",
    )
    run.add_argument(
        "--webhook",
        action="store_true",
        help="serve a webhook instead of polling: Telegram posts updates to WEBHOOK_URL (public https URL, "
        "required), which a reverse proxy forwards to WEBHOOK_HOST:WEBHOOK_PORT (default 127.0.0.1:8080); "
        "GET /healthz reports the database and Redis. Needs PASSERELLE_SECRET; WEBHOOK_SECRET (the secret "
        "token Telegram sends) is derived from it when unset. WEBHOOK_URL set implies this flag.",
    )
    database = commands.add_parser("db", help="database schema").add_subparsers(dest="action", required=True)
    database.add_parser("upgrade", help="apply migrations in place (back up first)")
    cli_associations.add_parser(commands)
    cli_translations.add_parser(commands)
    cli_dialogs.add_parser(commands)
    cli_outbox.add_parser(commands)
    cli_report.add_parser(commands)
    commands.add_parser("purge", help="delete tickets past TICKET_RETENTION_DAYS now (the running bot does it too)")
    trial = commands.add_parser("try", help="walk the script in this terminal, no Telegram needed")
    trial.add_argument("--lang", default=None, help="language code, e.g. en, ro, zh_Hans")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(webhook=args.webhook)
        if args.command == "db":
            return asyncio.run(_db_upgrade())
        if args.command == "associations":
            return asyncio.run(cli_associations.run(args, load_settings().database_url))
        if args.command == "dialogs":
            return asyncio.run(cli_dialogs.run(args, load_settings().database_url))
        if args.command == "outbox":
            return asyncio.run(cli_outbox.run(args, load_settings().database_url))
        if args.command == "report":
            return asyncio.run(cli_report.run(args))
        if args.command == "translations":
            return cli_translations.run(args)
        if args.command == "purge":
            return asyncio.run(_purge())
        if args.command == "try":
            from bot.cli.walk import walk

            return walk(args.lang)
    except ConfigError as exc:
        print(f"passerelle: {exc}", file=sys.stderr)
        return 2
    except NotApproved as exc:
        print(f"passerelle: {exc}", file=sys.stderr)
        return 2
    except SchemaOutdated as exc:
        print(f"passerelle: {exc}: back it up, then run `passerelle db upgrade`", file=sys.stderr)
        return 2
    except ScriptInvalid as exc:
        for problem in exc.problems:
            print(f"passerelle: script problem: {problem}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


def _run(*, webhook: bool = False) -> int:
    settings = load_settings()  # before importing aiogram: a bad value fails in a blink
    settings.require_token()
    if webhook or settings.webhook_url:
        settings.require_webhook()
    if not settings.require_approval:
        print(
            "passerelle: REQUIRE_APPROVAL=false is for development; `run` serves approved content only", file=sys.stderr
        )
        object.__setattr__(settings, "require_approval", True)
    from bot.logs import setup_logging
    from bot.serve import run

    setup_logging(settings.log_level)
    asyncio.run(run(settings))
    return 0


async def _db_upgrade() -> int:
    from storage.db import create_engine, upgrade

    engine = create_engine(load_settings().database_url)
    try:
        before, after = await upgrade(engine)
    finally:
        await engine.dispose()
    print(f"database schema: {before or 'empty'} -> {after}")
    return 0


async def _purge() -> int:
    from storage.db import create_engine, ensure_schema, sessions
    from storage.tickets import purge

    settings = load_settings()
    engine = create_engine(settings.database_url)
    try:
        await ensure_schema(engine)
        async with sessions(engine).begin() as session:
            removed = await purge(session, settings.ticket_retention_days)
    finally:
        await engine.dispose()
    print(f"purged {removed} ticket(s) older than {settings.ticket_retention_days} days")
    return 0
