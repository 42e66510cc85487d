"""Nothing a moderator has not approved reaches a person; moderators' tools in Telegram and CLI."""

from __future__ import annotations

import argparse
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.cli import dialogs as cli_dialogs
from bot.moderation import SCRIPT_ID, NotApproved, load_approved, po_text
from dialogs.loader import ORIENTATION
from dialogs.record import Entry, Record, read_record, write_record
from dialogs.versions import version_from_files
from storage import approvals
from storage.db import create_engine, sessions, upgrade
from storage.models import OutboxMessage, Ticket
from tests.support.backends import Backend
from tests.support.stack import Stack, running_stack

MODERATOR = 70_001
ORIGINAL = "Êtes-vous en sécurité en ce moment ?"
CHANGED = "Êtes-vous en sécurité maintenant ?"


def edited_script() -> str:
    return ORIENTATION.read_text(encoding="utf-8").replace(f"text: {ORIGINAL}", f"text: {CHANGED}")


async def approve_source(stack: Stack, source: str, subject: str = approvals.SCRIPT) -> str:
    from dialogs.versions import version_from_source

    digest = version_from_source(source, "orientation.yaml", {}).script.digest if subject == approvals.SCRIPT else ""
    async with stack.app.runtime.db.begin() as session:
        assert await approvals.approve(session, SCRIPT_ID, subject, digest, source, "test moderator", "edit")
    assert await stack.app.reload_if_approved()
    return digest


async def question(stack: Stack, user_id: int) -> str:
    user = stack.user(user_id)
    await user.send("/start")
    await user.press("J'ai compris")
    return user.last()["text"]


async def test_only_approved_content_is_served(stack: Stack) -> None:
    assert await question(stack, 1) == ORIGINAL, "the release record is served"
    original = version_from_files(ORIENTATION).script.digest
    await approve_source(stack, edited_script())
    assert await question(stack, 2) == CHANGED, "once approved, the change is served"
    async with stack.app.runtime.db.begin() as session:
        assert await approvals.rollback(session, SCRIPT_ID, approvals.SCRIPT, original, "test moderator", "back")
    assert await stack.app.reload_if_approved()
    assert await question(stack, 3) == ORIGINAL, "rollback serves the earlier version again"


async def test_a_language_keeps_its_approved_text(stack: Stack) -> None:
    changed = po_text("ro").replace('msgstr "Da"', 'msgstr "Da, sigur"')
    from dialogs.versions import catalogue_from_po_text

    digest = catalogue_from_po_text("ro", changed).digest
    async with stack.app.runtime.db.begin() as session:
        await approvals.approve(session, SCRIPT_ID, "ro", digest, changed, "test moderator")
    await stack.app.reload_if_approved()
    assert stack.app.runtime.catalogs.get("ro").gettext("Oui") == "Da, sigur"
    assert 'msgstr "Da"' in po_text("ro"), "the file on disk says otherwise: it is not served"


@pytest.mark.parametrize("command", ["/review", "/preview orientation ro", "/history"])
async def test_strangers_get_the_ordinary_answer(stack: Stack, command: str) -> None:
    stranger = stack.user(80_001)
    await stranger.send("/start")
    await stranger.send(command)
    assert "Je ne connais pas cette commande" in stranger.last()["text"]


@pytest.fixture
async def moderated(backend: Backend, captured_logs: io.StringIO) -> AsyncIterator[Stack]:
    async with running_stack(backend, captured_logs, moderator_ids=str(MODERATOR)) as running:
        yield running


async def test_preview_walks_the_files_and_creates_no_ticket(moderated: Stack) -> None:
    from tests.support.handoff_fixtures import enrolled_directory

    await enrolled_directory(moderated)
    await approve_source(moderated, edited_script())  # people now see CHANGED; the files say ORIGINAL
    moderator = moderated.user(MODERATOR)
    await moderator.send("/preview orientation fr")
    assert moderator.last()["text"].startswith("🔍 PREVIEW")
    await moderator.press("J'ai compris")
    assert ORIGINAL in moderator.last()["text"] and "PREVIEW" in moderator.last()["text"]
    await moderator.send("/start")
    assert "PREVIEW" not in moderator.last()["text"], "/start leaves the preview"
    assert await question(moderated, MODERATOR + 1) == CHANGED, "people keep the approved version"


async def test_preview_handoff_sends_nothing(moderated: Stack) -> None:
    from tests.support.handoff_fixtures import enrolled_directory

    directory = await enrolled_directory(moderated)
    moderator = moderated.user(MODERATOR)
    await moderator.send("/preview orientation fr")
    await moderator.press("J'ai compris")
    for label in ("Oui, je suis en sécurité", "18 ans ou plus", "Valider"):
        await moderator.press(label)
    await moderator.send("75011")
    for label in ("Je les appelle", "Non", "Oui, envoyer"):
        await moderator.press(label)
    assert "PREVIEW" in moderator.last()["text"]
    async with moderated.app.runtime.db() as session:
        assert await session.scalar(select(func.count(Ticket.id))) == 0
        assert await session.scalar(select(func.count(OutboxMessage.id))) == 0
    assert directory.notices("test-paris") == []


async def test_review_approve_and_stale_buttons(moderated: Stack) -> None:
    await approve_source(moderated, edited_script())
    moderator = moderated.user(MODERATOR)
    await moderator.send("/review")
    review = moderator.last()
    assert "Script" in review["text"] and ORIGINAL in review["text"]
    approve_data = next(data for label, data in moderator.buttons(review) if "Approuver" in label)
    stale = approve_data[:-8] + "00000000"
    await moderator.press_data(stale, review["message_id"])
    assert "périmé" in str(list(moderated.fake.callback_answers.values())[-1])
    await moderator.press_data(approve_data, review["message_id"])
    assert "Approuvé" in str(list(moderated.fake.callback_answers.values())[-1])
    assert await question(moderated, 90_001) == ORIGINAL, "approved in Telegram: served at once"
    await moderator.send("/history")
    assert "telegram:70001" in moderator.last()["text"]
    async with moderated.app.runtime.db() as session:
        actions = [e.action for e in await approvals.history(session)]
    assert actions.count("approve") >= 2


async def test_cli_approve_history_and_refusals(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = database_url
    record = tmp_path / "approved.json"

    def args(**values: object) -> argparse.Namespace:
        base = {
            "dialogs_action": "approve",
            "script": SCRIPT_ID,
            "lang": "all",
            "by": "Alice (moderator)",
            "note": "first",
            "record": record,
        }
        return argparse.Namespace(**{**base, **values})

    assert await cli_dialogs.run(args(), url) == 0
    assert "approved" in capsys.readouterr().out
    assert await cli_dialogs.run(args(), url) == 0
    assert "already approved, nothing to do" in capsys.readouterr().out
    written = read_record(record)
    assert written.script[SCRIPT_ID].by == "Alice (moderator)" and "ar" in written.catalogues[SCRIPT_ID]
    broken = tmp_path / "scripts"
    broken.mkdir()
    (broken / "orientation.yaml").write_text("id: orientation\nnodes: [", encoding="utf-8")
    monkeypatch.setattr(cli_dialogs, "SCRIPTS_DIR", broken)
    assert await cli_dialogs.run(args(), url) == 1
    assert "YAML syntax error" in capsys.readouterr().err
    assert await cli_dialogs.run(argparse.Namespace(dialogs_action="history"), url) == 0
    assert capsys.readouterr().out.count("approve") >= 13


async def test_a_fresh_database_serves_exactly_the_release_record(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/f.sqlite3")
    await upgrade(engine)
    files = version_from_files(ORIENTATION)
    record = tmp_path / "approved.json"
    write_record(
        Record(
            script={SCRIPT_ID: Entry(files.script.digest, "release", "2026-11-29")},
            catalogues={SCRIPT_ID: {"ro": Entry(files.catalogues["ro"].digest, "release", "2026-11-29")}},
        ),
        record,
    )
    content = await load_approved(sessions(engine), record)
    assert content.catalogs.locales == ("fr", "ro"), "only what the record covers"
    stale = tmp_path / "stale.json"
    write_record(Record(script={SCRIPT_ID: Entry("0" * 64, "release", "2026-01-01")}), stale)
    other = create_engine(f"sqlite+aiosqlite:///{tmp_path}/g.sqlite3")
    await upgrade(other)
    with pytest.raises(NotApproved):
        await load_approved(sessions(other), stale)
    await engine.dispose()
    await other.dispose()


def test_the_shipped_record_covers_the_shipped_files() -> None:
    """Edited a script or a catalogue? Run: passerelle dialogs approve orientation --lang all --by NAME."""
    record = read_record()
    files = version_from_files(ORIENTATION)
    assert record.script[SCRIPT_ID].digest == files.script.digest
    assert {loc: e.digest for loc, e in record.catalogues[SCRIPT_ID].items()} == {
        loc: c.digest for loc, c in files.catalogues.items()
    }
