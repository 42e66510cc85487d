"""`passerelle try` as a faithful preview: the consent and handoff screens as people see them.

Through the command line, in a subprocess without aiogram, as a moderator runs it: the
association comes from the directory when one is imported, else a sample marked as such;
the code is always a sample; right-to-left languages point to `/preview`.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from storage.db import create_engine, sessions
from storage.models import Association, EnrolledChat

TRY = """
import sys
from bot.cli.main import main
code = main(sys.argv[1:])
print("aiogram imported:", "aiogram" in sys.modules)
sys.exit(code)
"""
TO_HANDOFF = "1\n1\n2\n8\n93\n1\n2\n1\n"
"""Understood, safe, adult, no need ticked, Seine-Saint-Denis, calls them, no interpreter, send."""
DIRECTORY = """slug,name,departements,city,latitude,longitude,accredited_until,intake_open,phone,source
fictive-nord,Association Fictive Nord,93,Saint-Denis,48.93,2.35,2099-01-01,true,01 00 00 00 00,fictional test data
"""


def passerelle(tmp_path: Path, database: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The command line in a fresh process, in an empty folder (no .env), on `database`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "BOT_"))}
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{database}"
    done = subprocess.run(
        [sys.executable, "-c", TRY, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.rstrip().endswith("aiogram imported: False")
    return done


def after(text: str, marker: str) -> str:
    assert marker in text, text[-3000:]
    return text.split(marker, 1)[1]


def test_without_a_directory_the_association_and_the_code_are_marked_samples(tmp_path: Path) -> None:
    database = tmp_path / "none.sqlite3"
    out = passerelle(tmp_path, database, "try", "--lang", "en", stdin=TO_HANDOFF).stdout
    consent = after(out, "What will be sent").split("Do you want to send it?")[0]
    assert "Association Exemple (SAMPLE)" in consent and "SAMPLE association: no directory is imported" in consent
    handed = after(out, "Your code: XXXX-XXXX-XXXX  (SAMPLE code: a preview creates no request")
    assert "42-K7PX" in handed and "Association Exemple (SAMPLE)" in handed.split("[handoff]")[0]
    assert not database.exists(), "a preview creates no database"


async def enrol_all(database: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        async with sessions(engine).begin() as session:
            for number, association in enumerate(await session.scalars(select(Association)), start=1):
                session.add(EnrolledChat(association_id=association.id, chat_id=-1000 - number))
    finally:
        await engine.dispose()


def test_with_a_directory_the_nearest_association_is_shown(tmp_path: Path) -> None:
    database = tmp_path / "directory.sqlite3"
    csv = tmp_path / "directory.csv"
    csv.write_text(DIRECTORY, encoding="utf-8")
    passerelle(tmp_path, database, "associations", "import", str(csv))
    asyncio.run(enrol_all(database))
    out = passerelle(tmp_path, database, "try", "--lang", "en", stdin=TO_HANDOFF).stdout
    consent = after(out, "What will be sent").split("Do you want to send it?")[0]
    assert "Association Fictive Nord" in consent and "01 00 00 00 00" in consent
    assert "Association Fictive Nord" in after(out, "Your code: XXXX-XXXX-XXXX  (SAMPLE code")
    assert "Association Exemple" not in out and "SAMPLE association" not in out


def test_right_to_left_points_to_preview(tmp_path: Path) -> None:
    out = passerelle(tmp_path, tmp_path / "none.sqlite3", "try", "--lang", "ar", stdin="q\n").stdout
    assert "right-to-left" in out and "/preview orientation ar" in out
    english = passerelle(tmp_path, tmp_path / "none.sqlite3", "try", "--lang", "en", stdin="q\n").stdout
    assert "right-to-left" not in english


def test_the_sample_association_is_placed_truthfully(tmp_path: Path) -> None:
    """The sample sits in Montpellier (34). A person in Seine-Saint-Denis (93) is not told it
    works in their département: the preview says what the bot would say with the sample as
    the directory's only association, how far from the centre of their département."""
    out = passerelle(tmp_path, tmp_path / "none.sqlite3", "try", "--lang", "en", stdin=TO_HANDOFF).stdout
    consent = after(out, "What will be sent").split("Do you want to send it?")[0]
    assert "Département: 93" in consent and "Montpellier" in consent
    assert "It works in your département." not in consent, consent
    assert "No association covers your département" in consent and "km from the centre" in consent, consent


def test_with_no_association_to_offer_nothing_reads_as_sent(tmp_path: Path) -> None:
    """No place given, so no association: the bot keeps the consent screen with a notice that
    nothing was sent; the preview does not show "It is sent" first."""
    skipped_place = "1\n1\n2\n8\n1\n1\n2\n1\n"
    out = passerelle(tmp_path, tmp_path / "none.sqlite3", "try", "--lang", "en", stdin=skipped_place).stdout
    pressed = after(out, "Do you want to send it?")
    assert "we cannot choose an association. Nothing has been sent." in pressed, pressed
    assert "It is sent" not in pressed, pressed
