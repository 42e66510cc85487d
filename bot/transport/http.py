"""A small HTTP/1.1 client for the Bot API's JSON calls: kept-alive connections to one origin.

Why not aiohttp's client for these: it does much per request that a bot talking to one
host never needs (cookies, redirects, tracing hooks, form encoding), and a button press
makes two calls (figures: docs/performance.md#json-client). This client does one thing:
POST a JSON body over a kept-alive connection (TLS for https) and read the answer, whose
framing (Content-Length or chunked) httptools parses; httptools is the C parser uvicorn
uses. Uploads, downloads and proxies stay with aiohttp (bot.transport.session).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httptools

IDLE_REUSE_SECONDS = 10.0
"""An idle connection is reused for this long, then closed: well under the idle timeouts
of Telegram's front servers and of common reverse proxies, so a request is very seldom
written to a connection the server is closing. A call that fails that way is not sent
again here: the server may have read it, and only the caller knows whether repeating it
is safe (aiohttp makes the same choice for POST)."""


class ConnectionClosed(ConnectionError):
    """The server closed the connection before its answer was complete."""


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str
    port: int


class Exchange(asyncio.Protocol):
    """One connection, one request at a time; the parser reads the answers in turn."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.answer: asyncio.Future[tuple[int, bytes]] | None = None
        self.body: list[bytes] = []
        self.framed = False
        """The answer being read says where it ends (Content-Length or chunked)."""
        self.headers_done = False
        self.closed = False
        self.idle_since = 0.0

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.answer is None:  # nothing was asked: the stream cannot be trusted any more
            self.close()
            return
        try:
            self.parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as error:
            self.fail(ConnectionClosed(f"malformed answer: {error!r}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.headers_done and not self.framed:  # an answer that ends where the connection does
            self.complete()
        self.fail(ConnectionClosed("the server closed the connection"))

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.body, self.framed, self.headers_done = [], False, False

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"content-length" or (name == b"transfer-encoding" and b"chunked" in value.lower()):
            self.framed = True

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, chunk: bytes) -> None:
        self.body.append(chunk)

    def on_message_complete(self) -> None:
        if 100 <= self.parser.get_status_code() < 200:
            self.headers_done = False
            return  # an interim answer (103 Early Hints...): the real one follows
        if not self.parser.should_keep_alive():
            self.close()
        self.complete()

    # our side
    def send(self, request: bytes) -> asyncio.Future[tuple[int, bytes]]:
        assert self.transport is not None and self.answer is None
        self.answer = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self.answer

    def complete(self) -> None:
        answer, self.answer = self.answer, None
        result = (self.parser.get_status_code(), b"".join(self.body))
        self.body, self.headers_done = [], False
        if answer is not None and not answer.done():
            answer.set_result(result)

    def fail(self, error: Exception) -> None:
        answer, self.answer = self.answer, None
        if answer is not None and not answer.done():
            answer.set_exception(error)

    def usable(self, now: float) -> bool:
        return (
            not self.closed
            and self.transport is not None
            and not self.transport.is_closing()
            and now - self.idle_since < IDLE_REUSE_SECONDS
        )

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class JsonClient:
    """POST JSON to a Bot API server, over at most `limit` connections per origin."""

    def __init__(self, user_agent: str, ssl_context: ssl.SSLContext | None = None, limit: int = 100) -> None:
        self.user_agent = user_agent
        self.ssl_context = ssl_context
        self.limit = limit
        self.idle: dict[Origin, list[Exchange]] = {}
        self.slots: dict[Origin, asyncio.Semaphore] = {}
        self.heads: dict[str, tuple[Origin, bytes]] = {}
        self.busy: set[Exchange] = set()

    async def post(self, url: str, body: bytes, timeout: float) -> tuple[int, bytes]:
        """(status, body) of the answer. Raises OSError (ConnectionClosed included) or TimeoutError."""
        origin, head = self.head_of(url)
        request = head + b"%d\r\n\r\n" % len(body) + body
        slots = self.slots.get(origin) or self.slots.setdefault(origin, asyncio.Semaphore(self.limit))
        async with asyncio.timeout(timeout), slots:  # waiting for a free connection counts too
            exchange = self.take(origin) or await self.connect(origin)
            self.busy.add(exchange)
            try:
                answer = await exchange.send(request)
            except BaseException:  # closed, timed out or cancelled: the connection is done
                exchange.close()
                raise
            finally:
                self.busy.discard(exchange)
        if not exchange.closed:
            exchange.idle_since = time.monotonic()
            self.idle.setdefault(origin, []).append(exchange)
        return answer

    def head_of(self, url: str) -> tuple[Origin, bytes]:
        """The request line and headers up to Content-Length's value, built once per URL."""
        known = self.heads.get(url)
        if known is None:
            parts = urlsplit(url)
            secure = parts.scheme == "https"
            origin = Origin(parts.scheme, parts.hostname or "", parts.port or (443 if secure else 80))
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            host = parts.netloc.rsplit("@", 1)[-1]
            head = (
                f"POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {self.user_agent}\r\n"
                "Content-Type: application/json\r\nContent-Length: "
            ).encode()
            known = self.heads[url] = (origin, head)
        return known

    def take(self, origin: Origin) -> Exchange | None:
        idle = self.idle.get(origin)
        now = time.monotonic()
        while idle:
            exchange = idle.pop()
            if exchange.usable(now):
                return exchange
            exchange.close()
        return None

    async def connect(self, origin: Origin) -> Exchange:
        loop = asyncio.get_running_loop()
        secure = origin.scheme == "https"
        context = (self.ssl_context or ssl.create_default_context()) if secure else None
        _, exchange = await loop.create_connection(
            Exchange,
            origin.host,
            origin.port,
            ssl=context,
            server_hostname=origin.host if secure else None,
            happy_eyeballs_delay=0.25,  # as aiohttp: a dead IPv6 route does not stall every call
        )
        return exchange

    async def close(self) -> None:
        """Close every connection, the busy ones too (as aiohttp does); a later call opens new ones."""
        for exchange in [*self.busy, *(e for idle in self.idle.values() for e in idle)]:
            exchange.close()
        self.idle.clear()
