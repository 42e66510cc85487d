"""The bot's own HTTP client (bot.transport.http) and the session that uses it (bot.transport.session).

Why: every call the bot makes goes through this client, so HTTP's less common turns must
hold: chunked answers, a server that closes after answering or without answering, a
timeout, an idle connection gone stale, TLS. The servers here are real sockets: aiohttp's
server, or a raw asyncio server where the case is one aiohttp would not produce.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import pytest_asyncio
from aiogram import Bot
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import ClientDecodeError, TelegramBadRequest, TelegramNetworkError
from aiogram.types import BufferedInputFile, InlineKeyboardButton, Message
from aiohttp import web

from bot.transport import http as telegram_http
from bot.transport.http import ConnectionClosed, JsonClient
from bot.transport.session import LeanSession, PreparedKeyboard
from tests.support.fake_telegram import FakeTelegram, FakeUser
from tests.support.fake_telegram.server import DEFAULT_TOKEN

OK_TRUE = b'{"ok":true,"result":true}'


@asynccontextmanager
async def aiohttp_server(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]], ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[tuple[str, list[int]]]:
    """An aiohttp server on a free port; yields its base URL and the remote port of each request
    (one per connection, so its distinct values count connections)."""
    ports: list[int] = []

    async def recording(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        ports.append(request.transport.get_extra_info("peername")[1])
        return await handler(request)

    app = web.Application()
    app.router.add_post("/{tail:.*}", recording)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # aiohttp does not expose the bound port otherwise
    scheme = "https" if ssl_context else "http"
    try:
        yield f"{scheme}://localhost:{port}", ports
    finally:
        await runner.cleanup()


@asynccontextmanager
async def raw_server(answers: list[bytes | None]) -> AsyncIterator[str]:
    """A server that reads one request per answer and writes that answer verbatim; None closes
    the connection without a word. It closes the connection once out of answers."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while answers:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                answer = answers.pop(0)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()


def client() -> JsonClient:
    return JsonClient(user_agent="passerelle-test")


async def test_calls_reuse_one_kept_alive_connection_and_send_json() -> None:
    bodies: list[object] = []

    async def echo(request: web.Request) -> web.Response:
        assert request.content_type == "application/json"
        bodies.append(await request.json())
        return web.Response(body=OK_TRUE, content_type="application/json")

    http = client()
    async with aiohttp_server(echo) as (url, ports):
        for n in range(5):
            assert await http.post(f"{url}/bot1/getMe", json.dumps({"n": n}).encode(), 5) == (200, OK_TRUE)
        await http.close()
    assert bodies == [{"n": n} for n in range(5)]
    assert len(set(ports)) == 1, "one connection served every call"


async def test_concurrent_calls_open_connections_up_to_the_limit() -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.05)
        return web.Response(body=OK_TRUE)

    http = JsonClient(user_agent="passerelle-test", limit=3)
    async with aiohttp_server(slow) as (url, ports):
        answers = await asyncio.gather(*(http.post(f"{url}/bot1/getMe", b"{}", 5) for _ in range(9)))
        await http.close()
    assert answers == [(200, OK_TRUE)] * 9
    assert len(set(ports)) == 3


async def test_a_chunked_answer_is_read_whole() -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'a\r\n{"ok":true\r\nf\r\n,"result":true}\r\n0\r\n\r\n'
    )
    http = client()
    async with raw_server([chunked, chunked]) as url:
        assert await http.post(f"{url}/bot1/getMe", b"{}", 5) == (200, OK_TRUE)
        assert await http.post(f"{url}/bot1/getMe", b"{}", 5) == (200, OK_TRUE), "and the connection kept"
    await http.close()


async def test_connection_close_is_honoured() -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 25\r\n\r\n" + OK_TRUE
    http = client()
    async with raw_server([closing]) as first, raw_server([closing]) as _:
        assert await http.post(f"{first}/bot1/getMe", b"{}", 5) == (200, OK_TRUE)
        assert not any(http.idle.values()), "a connection the server closes is not kept"
    await http.close()


async def test_an_interim_answer_is_skipped_and_an_unframed_one_ends_with_the_connection() -> None:
    early_hints = (
        b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 25\r\n\r\n" + OK_TRUE
    )
    unframed = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + OK_TRUE  # then the server closes
    http = client()
    async with raw_server([early_hints, unframed]) as url:
        assert await http.post(f"{url}/bot1/getMe", b"{}", 5) == (200, OK_TRUE)
        assert await http.post(f"{url}/bot1/getMe", b"{}", 5) == (200, OK_TRUE)
    await http.close()


async def test_a_server_closing_without_answering_is_an_error_not_a_retry() -> None:
    answered = b"HTTP/1.1 200 OK\r\nContent-Length: 25\r\n\r\n" + OK_TRUE
    answers: list[bytes | None] = [answered, None]
    http = client()
    async with raw_server(answers) as url:
        assert await http.post(f"{url}/bot1/getMe", b"{}", 5) == (200, OK_TRUE)
        with pytest.raises(ConnectionClosed):
            await http.post(f"{url}/bot1/sendMessage", b"{}", 5)  # the server may have acted on it
    assert answers == [], "it was sent once"
    await http.close()


async def test_a_timeout_abandons_the_connection() -> None:
    release = asyncio.Event()

    async def stuck(request: web.Request) -> web.Response:
        if request.path.endswith("stuck"):
            await release.wait()
        return web.Response(body=OK_TRUE)

    http = client()
    async with aiohttp_server(stuck) as (url, ports):
        with pytest.raises(TimeoutError):
            await http.post(f"{url}/bot1/stuck", b"{}", 0.2)
        release.set()
        assert await http.post(f"{url}/bot1/getMe", b"{}", 5) == (200, OK_TRUE)
        await http.close()
    assert len(set(ports)) == 2, "the late answer could not be taken for the next call's"


async def test_waiting_for_a_free_connection_counts_in_the_timeout_and_close_ends_every_call() -> None:
    release = asyncio.Event()

    async def stuck(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(body=OK_TRUE)

    http = JsonClient(user_agent="passerelle-test", limit=1)
    async with aiohttp_server(stuck) as (url, _):
        holding = asyncio.create_task(http.post(f"{url}/bot1/getUpdates", b"{}", 30))
        await asyncio.sleep(0.1)
        started = asyncio.get_running_loop().time()
        with pytest.raises(TimeoutError):
            await http.post(f"{url}/bot1/getMe", b"{}", 0.2)
        assert asyncio.get_running_loop().time() - started < 1
        await http.close()
        with pytest.raises(ConnectionClosed):
            await holding
        release.set()


async def test_an_idle_connection_is_not_reused_past_its_time(monkeypatch: pytest.MonkeyPatch) -> None:
    async def ok(request: web.Request) -> web.Response:
        return web.Response(body=OK_TRUE)

    http = client()
    async with aiohttp_server(ok) as (url, ports):
        await http.post(f"{url}/bot1/getMe", b"{}", 5)
        monkeypatch.setattr(telegram_http, "IDLE_REUSE_SECONDS", 0.0)
        await http.post(f"{url}/bot1/getMe", b"{}", 5)
        await http.close()
    assert len(set(ports)) == 2


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_https_verifies_the_server(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)

    async def ok(request: web.Request) -> web.Response:
        return web.Response(body=OK_TRUE)

    async with aiohttp_server(ok, ssl_context=served) as (url, _):
        trusting = JsonClient(user_agent="passerelle-test", ssl_context=ssl.create_default_context(cafile=str(cert)))
        assert await trusting.post(f"{url}/bot1/getMe", b"{}", 5) == (200, OK_TRUE)
        await trusting.close()
        stranger = JsonClient(user_agent="passerelle-test", ssl_context=ssl.create_default_context())
        with pytest.raises(ssl.SSLCertVerificationError):
            await stranger.post(f"{url}/bot1/getMe", b"{}", 5)
        await stranger.close()


# The session: aiogram's errors, and the calls that still go through aiohttp.


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@asynccontextmanager
async def session_bot(base_url: str) -> AsyncIterator[Bot]:
    bot = Bot(DEFAULT_TOKEN, session=LeanSession(api=TelegramAPIServer.from_base(base_url)))
    try:
        yield bot
    finally:
        await bot.session.close()


async def test_the_session_raises_what_aiogram_raises(fake: FakeTelegram) -> None:
    user = FakeUser(fake, 4242, "Test")  # a chat the bot may write to
    async with session_bot(fake.base_url) as bot:
        # The fake is as strict with a JSON body as with a form (tests/test_fake_telegram.py).
        with pytest.raises(TelegramBadRequest, match="message text is empty"):
            await bot.send_message(user.id, "")
        with pytest.raises(TelegramBadRequest, match="can't parse entities"):
            await bot.send_message(user.id, "<b>unclosed", parse_mode="HTML")
        too_long = PreparedKeyboard(inline_keyboard=[[InlineKeyboardButton(text="Oui", callback_data="y" * 65)]])
        with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
            await bot.send_message(user.id, "Question", reply_markup=too_long)
        keyboard = PreparedKeyboard(inline_keyboard=[[InlineKeyboardButton(text="Oui", callback_data="y")]])
        sent = await bot.send_message(user.id, "<b>Question</b>", reply_markup=keyboard, parse_mode="HTML")
        assert sent.text == "Question" and sent.reply_markup is not None
        assert sent.reply_markup.inline_keyboard[0][0].callback_data == "y"
        assert bot.session._session is None, "JSON calls never open aiohttp's session"  # type: ignore[attr-defined]  # aiogram's private attribute, read to prove it stays unused
    assert LeanSession(limit=5).http.limit == 5
    async with raw_server([b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nnope!"]) as url, session_bot(url) as bot:
        with pytest.raises(ClientDecodeError):
            await bot.get_me()
    async with raw_server([None]) as url, session_bot(url) as bot:
        with pytest.raises(TelegramNetworkError):
            await bot.get_me()
    assert len(fake.refused) == 3


async def test_a_file_goes_through_aiohttp_as_a_form(fake: FakeTelegram) -> None:
    user = FakeUser(fake, 4343, "Test")
    async with session_bot(fake.base_url) as bot:
        sent = await bot.send_document(user.id, BufferedInputFile(b"attestation", filename="a.txt"), caption="x")
    assert sent.document is not None
    (call,) = [c for c in fake.requests if c.method == "sendDocument"]
    assert call.params["document"]["data"] == b"attestation" and call.params["caption"] == "x"


async def test_a_pressed_script_screen_is_not_parsed_again(fake: FakeTelegram) -> None:
    """Only a script button in a private chat loses its old screen: a notice button keeps it,
    in a private chat as in a group (the association handler rebuilds the notice from it)."""
    person = FakeUser(fake, 4444, "Test")
    association = FakeUser(fake, 4545, "Staff", chat_id=-1004545, chat_type="supergroup", chat_title="Asso")
    presses = [(person, "0123abcd:c:needs:1"), (person, "t:a:17"), (association, "0123abcd:c:needs:1")]
    keyboard = PreparedKeyboard(inline_keyboard=[[InlineKeyboardButton(text="Oui", callback_data="y")]])
    async with session_bot(fake.base_url) as bot:
        for user, data in presses:
            await bot.send_message(user.chat_id, "<b>Question</b>", reply_markup=keyboard, parse_mode="HTML")
            fake.push({"callback_query": fake.new_callback_query(user.user, user.bot_messages()[-1], data)})
        updates = await bot.get_updates(timeout=0)
    script, notice, group = [update.callback_query.message for update in updates if update.callback_query]
    assert isinstance(script, Message) and isinstance(notice, Message) and isinstance(group, Message)
    assert script.message_id == person.bot_messages()[0]["message_id"] and script.chat.id == person.chat_id
    assert script.text is None and script.reply_markup is None, "the old screen is not parsed again"
    for kept in (notice, group):
        assert kept.text == "Question" and kept.reply_markup is not None


async def test_a_json_body_leaves_out_unset_defaults_and_encodes_any_text() -> None:
    from aiogram.client.default import DefaultBotProperties
    from aiogram.methods import SendMessage

    session = LeanSession()
    bot = Bot(DEFAULT_TOKEN, session=session, default=DefaultBotProperties())  # no default parse mode
    try:
        body = session.json_body(bot, SendMessage(chat_id=1, text="نعم \ud800"))
    finally:
        await session.close()
    assert body is not None
    assert json.loads(body) == {"chat_id": 1, "text": "نعم \ud800"}, "no parse_mode: null, text intact"
