"""Webhook mode, end to end: the fake Bot API posts to the real app's aiohttp server.

The app runs in this process on a free loopback port (and once as a real `passerelle run
--webhook` subprocess); the fake delivers each update like Telegram, with the secret token
header, and counts an update as handled when the bot answered 200.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import update
from sqlalchemy.engine import make_url

from bot.app import App
from bot.config import ConfigError, load_settings
from bot.webhook import WebhookServer
from storage.models import OutboxMessage, hour
from tests.support.backends import TEST_DATABASE_URL, TEST_REDIS_URL, Backend, open_backend
from tests.support.fake_telegram import FakeTelegram, FakeUser
from tests.support.fake_telegram.server import DEFAULT_TOKEN
from tests.support.handoff_fixtures import enrolled_directory, reference_on
from tests.support.stack import SECRET, Stack, make_settings
from tests.support.walks import walk_to_consent

PATH = "/telegram/update"
NAME, SURNAME, HANDLE, USER_ID = "Philomène", "Zarkowska", "zz_webhook_handle", 7_123_456_789


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class WebhookStack(Stack):
    server: WebhookServer
    serving: asyncio.Task[None]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    async def get(self, path: str) -> tuple[int, Any]:
        async with aiohttp.ClientSession() as client, client.get(self.url + path) as response:
            return response.status, await response.json()

    async def post(self, body: object, headers: dict[str, str]) -> int:
        async with aiohttp.ClientSession() as client, client.post(self.url + PATH, json=body, headers=headers) as r:
            return r.status

    async def shut_down(self) -> None:
        """What SIGTERM does."""
        self.server.stop()
        await asyncio.wait_for(self.serving, 20)


@asynccontextmanager
async def running_webhook_stack(
    backend: Backend, logs: io.StringIO, *, shutdown_seconds: float = 10.0, **overrides: object
) -> AsyncIterator[WebhookStack]:
    """A fake Telegram, and the real app serving a webhook it posts to."""
    async with FakeTelegram() as fake:
        port = free_port()
        settings = make_settings(
            backend, fake.base_url, webhook_url=f"http://127.0.0.1:{port}{PATH}", webhook_port=port, **overrides
        )
        app = await App.create(settings)
        server = WebhookServer(app, shutdown_seconds=shutdown_seconds)
        serving = asyncio.create_task(server.run(handle_signals=False))
        ready = asyncio.create_task(server.ready.wait())
        await asyncio.wait([ready, serving], timeout=20, return_when=asyncio.FIRST_COMPLETED)
        if serving.done():
            ready.cancel()
            serving.result()  # raises what stopped it
        assert server.ready.is_set(), "the webhook server did not start"
        try:
            yield WebhookStack(fake, app, logs, backend, server, serving)
        finally:
            server.stop()
            await asyncio.wait_for(serving, 20)
            await app.close()


@pytest.fixture
async def hook(backend: Backend, captured_logs: io.StringIO) -> AsyncIterator[WebhookStack]:
    async with running_webhook_stack(backend, captured_logs) as running:
        yield running


# --------------------------------------------------------------------------- settings


def test_webhook_settings_are_checked() -> None:
    base = {"bot_token": DEFAULT_TOKEN, "passerelle_secret": SECRET}
    ok = load_settings(**base, webhook_url="https://bot.example.org/telegram/update")
    assert ok.webhook_path == "/telegram/update" and (ok.webhook_host, ok.webhook_port) == ("127.0.0.1", 8080)
    assert load_settings(**base, webhook_url="https://bot.example.org:8443/u").webhook_url
    refused = {
        "bot.example.org/hook": "WEBHOOK_URL is invalid: it must be a URL",
        "ftp://bot.example.org/hook": "WEBHOOK_URL is invalid: it must be a URL",
        "http://bot.example.org/hook": "WEBHOOK_URL is invalid: Telegram posts only to https",
        "https://bot.example.org:8081/hook": "WEBHOOK_URL is invalid: Telegram posts only to ports",
        "https://bot.example.org/healthz": "WEBHOOK_URL is invalid: /healthz is the health check",
    }
    for url, message in refused.items():
        with pytest.raises(ConfigError, match=message):
            load_settings(**base, webhook_url=url)
    # A local telegram-bot-api server (BOT_API_URL) posts over http, to any port.
    local = load_settings(**base, bot_api_url="http://127.0.0.1:8081", webhook_url="http://10.0.0.5:9000/u")
    assert local.webhook_path == "/u"
    for bad in ("has space", "é", "x" * 257, "a/b"):
        with pytest.raises(ConfigError, match="WEBHOOK_SECRET is invalid"):
            load_settings(**base, webhook_secret=bad)
    with pytest.raises(ConfigError, match="WEBHOOK_PORT is invalid"):
        load_settings(**base, webhook_port=70000)


def test_secret_token_is_derived_from_passerelle_secret() -> None:
    url = {"bot_token": DEFAULT_TOKEN, "webhook_url": "https://bot.example.org/u"}
    one, two = (load_settings(**url, passerelle_secret=SECRET).require_webhook() for _ in range(2))
    other = load_settings(**url, passerelle_secret="another-secret-" + "1" * 32).require_webhook()
    assert one == two != other, "instances sharing PASSERELLE_SECRET agree; another secret gives another token"
    assert 1 <= len(one) <= 256 and all(c.isascii() and (c.isalnum() or c in "_-") for c in one)
    assert SECRET not in one
    given = load_settings(**url, passerelle_secret=SECRET, webhook_secret="given_Token-9").require_webhook()
    assert given == "given_Token-9"
    with pytest.raises(ConfigError, match="^PASSERELLE_SECRET is missing: webhook mode needs it"):
        load_settings(**url).require_webhook()
    with pytest.raises(ConfigError, match="^WEBHOOK_URL is missing"):
        load_settings(bot_token=DEFAULT_TOKEN, passerelle_secret=SECRET).require_webhook()


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> Any:
    import subprocess

    drop = {"BOT_TOKEN", "DATABASE_URL", "PASSERELLE_SECRET", "REDIS_URL", "BOT_API_URL"}
    clean = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("WEBHOOK_")}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        check=False,
        env={**clean, **env, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_webhook_mode_refuses_to_start_without_what_it_needs(tmp_path: Path) -> None:
    token = {"BOT_TOKEN": DEFAULT_TOKEN}
    cases = [
        (["run", "--webhook"], {**token, "PASSERELLE_SECRET": SECRET}, "passerelle: WEBHOOK_URL is missing"),
        (["run"], {**token, "WEBHOOK_URL": "https://b.example.org/u"}, "passerelle: PASSERELLE_SECRET is missing"),
        (
            ["run", "--webhook"],
            {**token, "PASSERELLE_SECRET": SECRET, "WEBHOOK_URL": "http://b.example.org/u"},
            "passerelle: WEBHOOK_URL is invalid",
        ),
    ]
    for args, env, expected in cases:
        done = run_cli(*args, env=env, cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith(expected) and done.stderr.count("\n") == 1, done.stderr
    assert not (tmp_path / "data").exists(), "refused before touching the database"
    assert "--webhook" in run_cli("run", "--help", env={}, cwd=tmp_path).stdout


# --------------------------------------------------------------------------- the server


async def test_a_whole_handoff_over_the_webhook(hook: WebhookStack) -> None:
    directory = await enrolled_directory(hook)
    user = hook.user(USER_ID, first_name=NAME, last_name=SURNAME, username=HANDLE)
    await walk_to_consent(user, "fr", postcode="75011")
    await user.press("Oui, envoyer")
    code = user.last()["text"].split("Votre code :")[1].split()[0]
    await hook.fake.wait_for(lambda: directory.notices("test-paris"), timeout=10)
    assert reference_on(user) in directory.notices("test-paris")[0] and code not in directory.notices("test-paris")[0]
    methods = {call.method for call in hook.fake.requests}
    assert "getUpdates" not in methods, "no polling in webhook mode"
    assert hook.fake.webhook_failures == [] and hook.fake.refused == []
    assert hook.fake.unanswered_callback_queries() == []
    logs = hook.logs.getvalue()
    for needle in (NAME, SURNAME, HANDLE, str(USER_ID), "75011", code):
        assert needle not in logs, needle
    assert f"POST {PATH} 200" in logs, "the access log names the path and status"


async def test_set_webhook_with_the_used_update_types_and_the_secret(hook: WebhookStack) -> None:
    calls = [c for c in hook.fake.requests if c.method == "setWebhook"]
    assert len(calls) == 1 and calls[0].ok
    params = calls[0].params
    settings = hook.app.settings
    assert params["url"] == settings.webhook_url
    assert params["secret_token"] == settings.require_webhook() == hook.fake.webhook["secret_token"]
    used = hook.app.dispatcher.resolve_used_update_types()
    assert sorted(params["allowed_updates"]) == sorted(used) and "message" in used and "callback_query" in used
    assert not params.get("drop_pending_updates")
    await hook.shut_down()
    assert not any(c.method == "deleteWebhook" for c in hook.fake.requests), "other instances keep serving"
    assert hook.fake.webhook["url"] == settings.webhook_url


async def test_a_wrong_or_missing_secret_gets_401_and_nothing_happens(hook: WebhookStack) -> None:
    user = hook.user(USER_ID, first_name=NAME, username=HANDLE)
    message = hook.fake.add_user_message(  # in the chat, as Telegram has it: it is deleted once handled
        USER_ID, user.user, {"text": "/start", "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}
    )
    update = {"update_id": 999_001, "message": message}
    before = len(hook.fake.requests)
    secret = hook.app.settings.require_webhook()
    assert await hook.post(update, {}) == 401
    assert await hook.post(update, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}) == 401
    assert await hook.post(update, {"X-Telegram-Bot-Api-Secret-Token": secret[:-1]}) == 401
    await asyncio.sleep(0.2)
    assert hook.fake.requests[before:] == [], "nothing handled, nothing sent"
    assert user.bot_messages() == []
    assert await hook.state.count() == 0
    logs = hook.logs.getvalue()
    assert f"POST {PATH} 401" in logs
    for needle in (NAME, HANDLE, str(USER_ID), "999001", "/start"):
        assert needle not in logs, needle
    # The right secret: handled (the check above was not refusing everything).
    assert await hook.post(update, {"X-Telegram-Bot-Api-Secret-Token": secret}) == 200
    assert user.bot_messages(), "the bot answered"


async def test_healthz_reports_the_database(hook: WebhookStack) -> None:
    status, body = await hook.get("/healthz")
    expected = {"status": "ok", "database": "ok", "outbox": "ok"} | ({"redis": "ok"} if hook.backend.redis_url else {})
    assert (status, body) == (200, expected)
    async with database_down(hook):
        status, body = await hook.get("/healthz")
        assert status == 503 and body["status"] == "down" and body["database"] == "down"
    status, body = await hook.get("/healthz")
    assert (status, body) == (200, expected), "up again once the database is back"
    logs = hook.logs.getvalue()
    assert "health check: database is down" in logs and "health check: database is up again" in logs
    for secret in (SECRET, hook.app.settings.require_webhook(), DEFAULT_TOKEN):
        assert secret not in logs and secret not in json.dumps(body)


async def test_healthz_reports_a_degraded_outbox(hook: WebhookStack) -> None:
    """A message waiting past OUTBOX_DEGRADED_MINUTES, or one given up in the last 24 h:
    `degraded`, with 200 (the instance serves; restarting it would deliver nothing)."""
    await hook.app.sender.stop()
    old = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=16)
    async with hook.app.runtime.db.begin() as session:
        row = OutboxMessage(chat_id=-1, kind="alert", text="x", queued_at=old)
        session.add(row)
    status, body = await hook.get("/healthz")
    assert (status, body["status"], body["outbox"], body["database"]) == (200, "degraded", "degraded", "ok")
    async with hook.app.runtime.db.begin() as session:
        await session.execute(update(OutboxMessage).values(queued_at=dt.datetime.now(dt.UTC).replace(tzinfo=None)))
    assert (await hook.get("/healthz"))[1]["outbox"] == "ok", "a young message is no problem"
    async with hook.app.runtime.db.begin() as session:
        await session.execute(update(OutboxMessage).values(status="failed", text="", given_up_at=hour()))
    assert (await hook.get("/healthz"))[1]["outbox"] == "degraded", "given up in the last 24 hours"
    async with hook.app.runtime.db.begin() as session:
        await session.execute(update(OutboxMessage).values(given_up_at=hour() - dt.timedelta(hours=25)))
    assert (await hook.get("/healthz"))[1]["outbox"] == "ok"


@asynccontextmanager
async def database_down(hook: WebhookStack) -> AsyncIterator[None]:
    """The bot's database really unreachable: SQLite's file replaced by a folder (no
    connection can open it), or PostgreSQL refusing every connection to it."""
    url = make_url(hook.backend.database_url)
    if not hook.backend.is_postgresql:
        path = Path(url.database or "")
        aside = path.with_name(path.name + ".aside")
        await hook.app.database.dispose()
        path.rename(aside)
        path.mkdir()
        try:
            yield
        finally:
            path.rmdir()
            aside.rename(path)
        return
    import asyncpg

    assert TEST_DATABASE_URL
    admin = await asyncpg.connect(make_url(TEST_DATABASE_URL).set(drivername="postgresql").render_as_string(False))
    name = url.database
    try:
        await admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
        yield
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
        await admin.close()


class TcpProxy:
    """A loopback TCP relay to a real server: closing it is the server going away."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        self._writers |= {writer, upstream_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                sink.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))


@pytest.mark.skipif(not TEST_REDIS_URL, reason="TEST_REDIS_URL is not set: the Redis tests were skipped")
async def test_healthz_reports_redis_down(tmp_path: Path, captured_logs: io.StringIO) -> None:
    redis = make_url(TEST_REDIS_URL or "")
    proxy = TcpProxy(redis.host or "127.0.0.1", redis.port or 6379)
    await proxy.start()
    proxied = f"redis://127.0.0.1:{proxy.port}/{redis.database or 0}"
    async with (
        open_backend("sqlite", tmp_path) as backend,
        running_webhook_stack(backend, captured_logs, redis_url=proxied) as hook,
    ):
        assert await hook.get("/healthz") == (200, {"status": "ok", "database": "ok", "redis": "ok", "outbox": "ok"})
        await proxy.stop()
        down = {"status": "down", "database": "ok", "redis": "down", "outbox": "ok"}
        assert await hook.get("/healthz") == (503, down)
        await proxy.start()
        assert await hook.get("/healthz") == (200, {"status": "ok", "database": "ok", "redis": "ok", "outbox": "ok"})
    await proxy.stop()
    assert "health check: redis is down" in captured_logs.getvalue()


async def test_shutdown_finishes_the_update_in_flight(hook: WebhookStack) -> None:
    user = hook.user()
    hook.fake.delay_next("sendMessage", 1.0)  # the answer to /start is slow to arrive
    started = time.monotonic()
    sending = asyncio.create_task(user.send("/start"))
    await hook.fake.wait_for(lambda: hook.fake.delayed == ["sendMessage"])
    stopping = asyncio.create_task(hook.shut_down())  # SIGTERM, as the update is in flight
    await asyncio.sleep(0.2)
    with pytest.raises(aiohttp.ClientConnectorError):
        await hook.get("/healthz")  # no longer accepting
    late = hook.fake.push({"message": hook.fake.add_user_message(user.chat_id, user.user, {"text": "tard"})})
    await asyncio.wait_for(sending, 10)  # the bot answered 200: Telegram counts it as handled
    await stopping
    assert time.monotonic() - started >= 1.0
    assert user.texts(), "the handler finished and its screen was sent"
    assert hook.app.sender._task is None, "the outbox sender was stopped"
    assert hook.fake.webhook_failures and all(f.update_id == late["update_id"] for f in hook.fake.webhook_failures)
    assert late in hook.fake._queue, "the late update stays with Telegram, for another instance"
    logs = hook.logs.getvalue()
    assert "stopping: finishing the updates in flight" in logs and "Traceback" not in logs
    assert "outbox pass failed" not in logs and "maintenance failed" not in logs


async def test_passerelle_run_webhook_as_a_process(tmp_path: Path) -> None:
    port = free_port()
    async with FakeTelegram() as fake:
        drop = {"BOT_TOKEN", "DATABASE_URL", "PASSERELLE_SECRET", "REDIS_URL", "BOT_API_URL", "LOG_LEVEL"}
        env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("WEBHOOK_")}
        env |= {
            "BOT_TOKEN": DEFAULT_TOKEN,
            "BOT_API_URL": str(fake.base_url),
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}",
            "PASSERELLE_SECRET": SECRET,
            "WEBHOOK_URL": f"http://127.0.0.1:{port}{PATH}",
            "WEBHOOK_PORT": str(port),
            "LOG_LEVEL": "DEBUG",
            "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "run",
            "--webhook",
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await wait_healthy(f"http://127.0.0.1:{port}/healthz", process)
            user = FakeUser(fake, USER_ID, first_name=NAME, username=HANDLE, timeout=10)
            await user.send("/start")
            assert user.texts(), "served over the webhook"
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), 30)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    errors = stderr.decode()
    assert process.returncode == 0, errors
    assert "Traceback" not in errors and "webhook set; serving on 127.0.0.1" in errors, errors
    assert "stopping: finishing the updates in flight" in errors
    for needle in (NAME, HANDLE, str(USER_ID)):
        assert needle not in errors, needle
    assert not any(c.method == "deleteWebhook" for c in fake.requests)


async def wait_healthy(url: str, process: asyncio.subprocess.Process, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as client:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                _, stderr = await process.communicate()
                raise AssertionError(f"passerelle exited {process.returncode}: {stderr.decode()}")
            try:
                async with client.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError("/healthz never answered 200")
