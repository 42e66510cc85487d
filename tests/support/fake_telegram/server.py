"""The fake Bot API server: its state, its HTTP endpoint, and the dispatch of each call to the part that answers it."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, Self

import aiohttp
from aiohttp import web

from tests.support.fake_telegram.bot_settings import BotSettings
from tests.support.fake_telegram.callbacks import Callbacks
from tests.support.fake_telegram.chats import Chats, ChatState
from tests.support.fake_telegram.errors import ApiCall, TelegramError, WebhookDelivery, bad_request
from tests.support.fake_telegram.faults import Fault, Faults
from tests.support.fake_telegram.messages import Messages
from tests.support.fake_telegram.spec import INT_RE, JSON, ApiSpec, MethodSpec
from tests.support.fake_telegram.updates import OPT_IN_UPDATE_TYPES, UpdateQueue
from tests.support.fake_telegram.webhook import WEBHOOK_DEFAULT_MAX_CONNECTIONS, Webhooks

if TYPE_CHECKING:
    from aiogram import Bot

logger = logging.getLogger(__name__)

DEFAULT_BOT_ID = 7000000001
DEFAULT_TOKEN = f"{DEFAULT_BOT_ID}:AAFakePasserelleTestToken-0123456789ab"


class FakeTelegram(Chats, UpdateQueue, Webhooks, Faults, Messages, Callbacks, BotSettings):
    """A Bot API server on 127.0.0.1 that keeps chats in memory and refuses like Telegram.

    Inspect: ``requests`` (every call, in order of completion), ``refused`` (calls refused
    because the bot did something wrong; injected failures are in ``faults`` instead),
    ``chats[chat_id].messages``, ``commands``, ``descriptions``, ``short_descriptions``,
    ``names``, ``menu_buttons``, ``callback_answers``, ``updates`` (every pushed update).
    No globals: several instances, in several threads or processes, do not interfere
    (each instance must be used from the event loop that started it).
    """

    def __init__(
        self,
        token: str | None = DEFAULT_TOKEN,
        spec_path: str | os.PathLike[str] | None = None,
        *,
        spec: ApiSpec | None = None,
        bot_id: int | None = None,
        bot_first_name: str = "Passerelle",
        bot_username: str = "passerelle_test_bot",
        keep_requests: bool = True,
    ):
        """``token=None`` accepts any token; ``keep_requests=False`` keeps memory flat in
        long benchmarks (``requests`` stays empty, ``refused`` and ``faults`` are kept)."""
        self.token = token
        self.spec = spec if spec is not None else ApiSpec.load(spec_path)
        if bot_id is None:
            prefix = (token or "").partition(":")[0]
            bot_id = int(prefix) if prefix.isdigit() else DEFAULT_BOT_ID
        self.bot_user: JSON = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self._bot_from: JSON = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.keep_requests = keep_requests

        self.requests: list[ApiCall] = []
        self.refused: list[ApiCall] = []
        self.faults: list[ApiCall] = []
        self.chats: dict[int, ChatState] = {}
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.descriptions: dict[str, str] = {}
        self.short_descriptions: dict[str, str] = {}
        self.names: dict[str, str] = {}
        self.menu_buttons: dict[int | None, JSON] = {}
        self.callback_answers: dict[str, JSON] = {}
        self.webhook: JSON = {"url": ""}
        self.updates: list[JSON] = []
        self.filtered_updates: list[JSON] = []  # not delivered: excluded by allowed_updates
        self._filtered_ids: set[int] = set()
        self.delayed: list[str] = []  # methods whose answer delay_next held back, as they arrived
        self.webhook_failures: list[WebhookDelivery] = []
        self.webhook_attempts = 3  # POSTs of one update before giving up (Telegram keeps trying longer)
        self.webhook_retry_delay = 0.05  # seconds between two of them
        self.webhook_timeout = 30.0  # seconds to wait for the bot's answer to one POST
        self._delays: dict[str, deque[float]] = {}
        self._webhook_client: aiohttp.ClientSession | None = None
        self._webhook_tasks: set[asyncio.Task[None]] = set()
        self._webhook_scheduled: set[int] = set()
        self._webhook_done: set[int] = set()
        self._webhook_given_up: dict[int, str] = {}
        self._webhook_locks: dict[Hashable, asyncio.Lock] = {}
        self._webhook_slots = asyncio.Semaphore(WEBHOOK_DEFAULT_MAX_CONNECTIONS)

        self._chats_by_username: dict[str, ChatState] = {}
        self._callback_queries: dict[str, JSON] = {}  # id -> {"answered": bool, ...}
        self._faults: dict[str, deque[Fault]] = {}
        self._clock_offset = 0.0
        self._ids = itertools.count(1)  # update ids
        self._query_ids = itertools.count(1)
        self._file_ids = itertools.count(1)

        self._queue: deque[JSON] = deque()  # unconfirmed updates, by increasing update_id
        self._confirmed_below = 1  # every update_id below this is confirmed
        self._dropped: set[int] = set()
        self._allowed: frozenset[str] = self.spec.update_types - OPT_IN_UPDATE_TYPES
        self._waiters: dict[int, asyncio.Future[None]] = {}
        self._waiter_heap: list[int] = []
        self._poll_event = asyncio.Event()
        self._poll_generation = 0
        self._activity: asyncio.Event | None = None
        self._stopping = False
        self._last_offset: int | None = None
        self._runner: web.AppRunner | None = None
        self.base_url: str | None = None

        self._handlers: dict[str, Callable[[MethodSpec, JSON], Any]] = {
            "getMe": lambda _s, _p: dict(self.bot_user),
            "logOut": lambda _s, _p: True,
            "close": lambda _s, _p: True,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "deleteMessages": self._delete_messages,
            "answerCallbackQuery": self._answer_callback_query,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setMyDescription": self._set_my_description,
            "getMyDescription": self._get_my_description,
            "setMyShortDescription": self._set_my_short_description,
            "getMyShortDescription": self._get_my_short_description,
            "setMyName": self._set_my_name,
            "getMyName": lambda _s, p: {"name": self.names.get(p.get("language_code", ""), "")},
            "setChatMenuButton": self._set_chat_menu_button,
            "getChatMenuButton": self._get_chat_menu_button,
            "sendChatAction": self._send_chat_action,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "forwardMessage": self._forward_message,
            "forwardMessages": self._forward_messages,
            "copyMessage": self._copy_message,
            "copyMessages": self._copy_messages,
        }

    # ----------------------------------------------------------------- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0: a free port); return the base URL for aiogram."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._stopping = False
        self._poll_event = asyncio.Event()  # bound to the loop that serves
        self._activity = None
        self._runner = web.AppRunner(app, shutdown_timeout=2.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server  # aiohttp does not expose the bound port otherwise
        assert server is not None and server.sockets
        bound_host, bound_port = server.sockets[0].getsockname()[:2]
        self.base_url = f"http://{bound_host}:{bound_port}"
        return self.base_url

    async def stop(self) -> None:
        """Answer pending long polls with ``[]``, stop webhook deliveries, close the server."""
        self._stopping = True
        self._wake_pollers()
        for task in list(self._webhook_tasks):
            task.cancel()
        await asyncio.gather(*self._webhook_tasks, return_exceptions=True)
        if self._webhook_client is not None:
            await self._webhook_client.close()
            self._webhook_client = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def make_bot(self, **bot_kwargs: Any) -> Bot:
        """An aiogram Bot talking to this server (the fake's token, or ``DEFAULT_TOKEN``)."""
        from aiogram import Bot
        from aiogram.client.session.aiohttp import AiohttpSession
        from aiogram.client.telegram import TelegramAPIServer

        class LocalSession(AiohttpSession):
            """Closes at once: aiogram waits 250 ms for TLS shutdown, and there is no TLS here."""

            async def close(self) -> None:
                if self._session is not None and not self._session.closed:
                    await self._session.close()

        if self.base_url is None:
            raise RuntimeError("start the fake before making a bot")
        session = LocalSession(api=TelegramAPIServer.from_base(self.base_url))
        return Bot(self.token or DEFAULT_TOKEN, session=session, **bot_kwargs)

    # ----------------------------------------------------------------- clock

    def now(self) -> int:
        """The fake's clock (unix seconds): real time plus whatever ``advance`` added."""
        return int(time.time() + self._clock_offset)

    def advance(self, seconds: float) -> None:
        """Move the fake's clock forward (e.g. past the 48 h deletion window)."""
        self._clock_offset += seconds

    # ----------------------------------------------------------------- HTTP

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        """Answer, then wake ``wait_for`` callers: the state they look at has changed."""
        try:
            return await self._respond(request)
        finally:
            self._notify()

    async def _respond(self, request: web.Request) -> web.StreamResponse:
        """Route ``/bot<token>/<method>``, validate, apply, and answer like Telegram."""
        head, _, method_name = request.path.lstrip("/").partition("/")
        spec: MethodSpec | None = None
        params: JSON = {}
        name = method_name
        fault: Fault | None = None
        try:
            if not head.startswith("bot") or not method_name or "/" in method_name:
                raise TelegramError(404, "Not Found")
            if self.token is not None and head[3:] != self.token:
                raise TelegramError(401, "Unauthorized")
            spec = self.spec.method(method_name)
            if spec is None:
                raise TelegramError(404, "Not Found")
            name = spec.name
            params = await self._read_params(request, spec)
            fault = self._take_fault(name, params)
            if fault is not None:
                if fault.error is not None:
                    self._record(name, params, fault.error, injected=True)
                    return self._error_response(fault.error)
                if not fault.after_processing:
                    return self._drop(request, name, params)
            delays = self._delays.get(name)
            if delays:
                seconds = delays.popleft()
                self.delayed.append(name)
                self._notify()
                await asyncio.sleep(seconds)
            result = await self._dispatch(spec, params, request)
        except TelegramError as error:
            self._record(name, params, error, request=request)
            return self._error_response(error)
        except Exception as crash:  # a bug of the fake: loud, and visible in fake.refused
            logger.exception("fake Telegram crashed on %s %r", name, params)
            error = TelegramError(500, f"Internal Server Error: fake_telegram crashed: {crash!r}")
            self._record(name, params, error, request=request)
            return self._error_response(error)
        if fault is not None:  # dropped after taking effect
            return self._drop(request, name, params, result)
        call = ApiCall(name, params, True, result=result, at=self.now())
        if self.keep_requests:
            self.requests.append(call)
        return web.Response(
            text=json.dumps({"ok": True, "result": result}, ensure_ascii=False),
            content_type="application/json",
        )

    def _drop(self, request: web.Request, name: str, params: JSON, result: Any = None) -> web.StreamResponse:
        """Close the connection without answering: aiogram raises TelegramNetworkError."""
        call = ApiCall(name, params, False, description="connection dropped", result=result)
        call.injected, call.at = True, self.now()
        self.faults.append(call)
        if self.keep_requests:
            self.requests.append(call)
        if request.transport is not None:
            request.transport.close()
        return web.Response()

    def _record(
        self,
        name: str,
        params: JSON,
        error: TelegramError,
        *,
        injected: bool = False,
        request: web.Request | None = None,
    ) -> None:
        call = ApiCall(name, params, False, error.error_code, error.description, None, injected, self.now())
        if self.keep_requests:
            self.requests.append(call)
        if injected:
            self.faults.append(call)
        elif request is None or (request.transport is not None and not request.transport.is_closing()):
            # A 409 to a long poll whose client already left (a stopped dispatcher) is no
            # mistake of the bot's: do not count it as a refusal.
            self.refused.append(call)

    @staticmethod
    def _error_response(error: TelegramError) -> web.Response:
        return web.Response(
            status=error.error_code,
            text=json.dumps(error.payload(), ensure_ascii=False),
            content_type="application/json",
        )

    async def _read_params(self, request: web.Request, spec: MethodSpec) -> JSON:
        """Merge query string and body (urlencoded, multipart or JSON); decode by spec type."""
        raw: JSON = dict(request.query) if request.query_string else {}
        files: dict[str, JSON] = {}
        if request.body_exists:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise bad_request("can't parse JSON request body") from None
                if not isinstance(body, dict):
                    raise bad_request("can't parse JSON request body")
                raw.update(body)
            else:
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        files[key] = {
                            "filename": value.filename,
                            "content_type": value.content_type,
                            "data": value.file.read(),
                        }
                    else:
                        raw[key] = value
        return {key: self._decode(spec, key, value, files) for key, value in raw.items()}

    def _decode(self, spec: MethodSpec, key: str, value: Any, files: dict[str, JSON]) -> Any:
        """aiogram sends strings as is and JSON-encodes everything else (ints, bools, objects)."""
        kind = spec.kinds.get(key)
        if not isinstance(value, str):
            return value  # already typed (JSON body)
        try:
            if kind == "str":
                return value
            if kind == "int":
                return int(value)
            if kind == "bool":
                lowered = value.lower()
                if lowered in ("true", "1"):
                    return True
                if lowered in ("false", "0", ""):
                    return False
                raise ValueError(value)
            if kind == "float":
                return float(value)
            if kind == "int_or_str":
                return int(value) if INT_RE.fullmatch(value) else value
            if kind == "file":
                if value.startswith("attach://") and value[9:] in files:
                    return files[value[9:]]
                return value
            if kind == "json":
                decoded = json.loads(value)
                return self._attach(decoded, files) if files else decoded
        except ValueError:
            if key == "reply_markup":
                raise bad_request("can't parse reply keyboard markup JSON object") from None
            if kind == "json":
                raise bad_request(f"can't parse {key} JSON object") from None
            raise bad_request(f"invalid {key} specified") from None
        # Not in the spec (e.g. the deprecated reply_to_message_id): guess, tolerantly.
        if value[:1] in ("{", "[") or value in ("true", "false") or INT_RE.fullmatch(value):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value

    def _attach(self, value: Any, files: dict[str, JSON]) -> Any:
        """Resolve ``attach://name`` inside JSON fields (InputMedia...)."""
        if isinstance(value, str) and value.startswith("attach://"):
            return files.get(value[9:], value)
        if isinstance(value, list):
            return [self._attach(item, files) for item in value]
        if isinstance(value, dict):
            return {k: self._attach(v, files) for k, v in value.items()}
        return value

    async def _dispatch(self, spec: MethodSpec, params: JSON, request: web.Request | None) -> Any:
        for required in spec.required:
            value = params.get(required)
            if value is None or value in ("", []):
                if required == "text":
                    raise bad_request("message text is empty")
                raise bad_request(f"{required} is empty")
        if spec.name == "getUpdates":
            if request is None:
                raise bad_request("method getUpdates can't be used in a webhook answer")
            return await self._get_updates(params, request)
        handler = self._handlers.get(spec.name)
        if handler is not None:
            return handler(spec, params)
        return self._generic(spec, params)

    # ----------------------------------------------------------------- everything else

    def _generic(self, spec: MethodSpec, params: JSON) -> Any:
        """Methods without real behaviour: check the chat, then a spec-shaped answer."""
        if spec.name in self.spec.media_fields:
            return self._send_media(spec, params)
        if "chat_id" in params and spec.kinds.get("chat_id") == "int_or_str":
            if spec.name.startswith("send"):
                self._target(params)
            else:
                self._chat(params["chat_id"])
        returns = spec.returns
        if not returns or "Boolean" in returns or "True" in returns:
            return True
        return self.spec.stub(returns[0])
