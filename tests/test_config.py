"""Bad configuration stops the program with one line, exit code 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings
from dialogs.languages import match_locale
from tests.support.fake_telegram.server import DEFAULT_TOKEN

AVAILABLE = ("fr", "en", "ro", "bg", "zh_Hans", "es", "pt_BR", "ar", "ru", "uk", "hu", "sq", "pcm")


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"BOT_TOKEN", "DATABASE_URL", "PASSERELLE_SECRET"}}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env={**clean, **env, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "BOT_TOKEN is missing"),
        ({"BOT_TOKEN": "not-a-token"}, "BOT_TOKEN is invalid"),
        ({"BOT_TOKEN": DEFAULT_TOKEN, "DATABASE_URL": "mysql://x"}, "DATABASE_URL is invalid"),
        ({"BOT_TOKEN": DEFAULT_TOKEN, "MODERATOR_IDS": "alice,bob"}, "MODERATOR_IDS is invalid"),
        ({"BOT_TOKEN": DEFAULT_TOKEN, "STATE_TTL": "soon"}, "STATE_TTL is invalid"),
        ({"BOT_TOKEN": DEFAULT_TOKEN, "PASSERELLE_SECRET": "short"}, "PASSERELLE_SECRET is invalid"),
        ({"BOT_TOKEN": DEFAULT_TOKEN, "DEFAULT_LOCALE": "tlh"}, "DEFAULT_LOCALE is invalid"),
        ({"BOT_TOKEN": DEFAULT_TOKEN, "BOT_API_URL": "ftp:/x"}, "BOT_API_URL is invalid"),
        ({"BOT_TOKEN": DEFAULT_TOKEN, "HANDOFF_REMIND_HOURS": "24"}, "less than HANDOFF_ACCEPT_HOURS (24)"),
        (
            {"BOT_TOKEN": DEFAULT_TOKEN, "HANDOFF_ACCEPT_HOURS": "4", "HANDOFF_REMIND_HOURS": "6"},
            "HANDOFF_REMIND_HOURS is invalid",
        ),
    ],
)
def test_bad_configuration_is_one_line(env: dict[str, str], expected: str, tmp_path: Path) -> None:
    result = run_cli("run", env=env, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_good_settings() -> None:
    settings = load_settings(bot_token=DEFAULT_TOKEN, moderator_ids="12, 34", passerelle_secret="s" * 32)
    assert settings.moderator_ids == (12, 34)
    assert settings.database_url.startswith("sqlite+aiosqlite:///")


def test_missing_secret_is_generated_once() -> None:
    settings = load_settings(bot_token=DEFAULT_TOKEN)
    assert settings.secret_is_ephemeral
    assert settings.secret_key() == settings.secret_key()
    with pytest.raises(ConfigError):
        load_settings(passerelle_secret="x").require_token()


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("fr", "fr"),
        ("fr-CA", "fr"),
        ("en", "en"),
        ("en-gb", "en"),
        ("EN_us", "en"),
        ("pt-br", "pt_BR"),
        ("pt", "pt_BR"),
        ("zh-hans", "zh_Hans"),
        ("zh", "zh_Hans"),
        ("zh-hant", "zh_Hans"),
        ("ro", "ro"),
        ("uk", "uk"),
        ("ar", "ar"),
        ("pcm", "pcm"),
        ("sq", "sq"),
        ("xx", None),
        ("", None),
        (None, None),
        ("de", None),
        ("-", None),
    ],
)
def test_telegram_codes_map_to_catalogues(code: str | None, expected: str | None) -> None:
    assert match_locale(code, AVAILABLE) == expected


TRY_WITHOUT_AIOGRAM = """
import sys
from bot.cli.main import main
code = main(["try", "--lang", "en"])
print("aiogram imported:", "aiogram" in sys.modules)
sys.exit(code)
"""


def test_try_walks_the_script_without_telegram(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", TRY_WITHOUT_AIOGRAM],
        input="1\n1\n2\n8\n93\n1\n2\n1\n",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert result.returncode == 0, result.stderr
    assert "Are you safe" in result.stdout
    assert "[handoff]" in result.stdout and "'departement': '93'" in result.stdout
    assert result.stdout.rstrip().endswith("aiogram imported: False")


def test_a_token_telegram_refuses_is_one_line(tmp_path: Path) -> None:
    """The fake, like Telegram, answers 401 to a well-formed token it does not know."""
    import asyncio

    from tests.support.fake_telegram import FakeTelegram

    async def run_against_fake() -> subprocess.CompletedProcess[str]:
        async with FakeTelegram() as fake:
            env = {
                "BOT_TOKEN": "123456:ABCdefGhIJKlmnoPQRstuVWXyz0123456789",
                "BOT_API_URL": fake.base_url,
                "PASSERELLE_SECRET": "s" * 32,
            }
            return await asyncio.to_thread(run_cli, "run", env=env, cwd=tmp_path)

    result = asyncio.run(run_against_fake())
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "passerelle: BOT_TOKEN was refused by the Bot API (Unauthorized): copy it again from @BotFather"
    )
    assert "ABCdefGhIJKlmnoPQRstuVWXyz" not in result.stderr, "the token is never printed"


def test_an_unreachable_bot_api_is_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {"BOT_TOKEN": DEFAULT_TOKEN, "BOT_API_URL": f"http://127.0.0.1:{port}", "PASSERELLE_SECRET": "s" * 32}
    result = run_cli("run", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"passerelle: BOT_API_URL: http://127.0.0.1:{port} did not answer"), result.stderr
