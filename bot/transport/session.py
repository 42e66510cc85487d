"""aiogram's HTTP session, tuned for the costs that dominate this bot's updates.

1. Keep aiogram's parsed-response models alive, so they are built once, not every few seconds.

aiogram parses every answer as `Response[ReturnType]`, a pydantic generic. pydantic caches
parametrised generics in a WeakValueDictionary, and nothing else holds them, so the
garbage collector drops them and the next request rebuilds one, at a cost that showed in
the tail latency (see docs/performance.md#response-models). Holding a strong
reference to the few types the bot uses on every update removes those rebuilds.

2. Do not rebuild a Message from Telegram's echo of an edit. An edited screen comes back
whole, keyboard included, and parsing it costs more than the edit itself; the bot never
reads it. Errors are still parsed and raised exactly as aiogram does.

3. Serialise each screen's keyboard once. aiogram dumps a keyboard to a dict and walks it
value by value on every request, the largest single cost of a button press (see
docs/performance.md#prepared-keyboards). A `PreparedKeyboard` keeps the JSON it was first
sent as, and every later request sends that same text. Screens are shared between people and hold
nothing about anyone, so neither does the cached JSON.

4. Send every call that carries no file as one JSON body through `bot.transport.http`
(see docs/performance.md#json-client).

5. Do not parse the old screen that comes back with every script button press (`lighten_update`).
"""

from __future__ import annotations

import json
import ssl
from http import HTTPStatus
from typing import Any

import aiogram
import certifi
from aiogram import Bot
from aiogram.client.default import Default, DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteMessages,
    EditMessageReplyMarkup,
    EditMessageText,
    GetUpdates,
    SendMessage,
    TelegramMethod,
)
from aiogram.methods.base import Response
from aiogram.types import InlineKeyboardMarkup
from aiohttp.http import SERVER_SOFTWARE
from pydantic import PrivateAttr, ValidationError
from pydantic_core import from_json

from bot.transport.http import JsonClient
from dialogs.events import try_decode

HOT_METHODS: tuple[type[TelegramMethod[Any]], ...] = (
    GetUpdates,
    SendMessage,
    EditMessageText,
    EditMessageReplyMarkup,
    AnswerCallbackQuery,
    DeleteMessages,
)
_PINNED: list[type] = []


def pin_response_models() -> None:
    """Build and keep the response models of the methods called on every update."""
    if not _PINNED:
        # A generic built at run time from each method's result type, as aiogram does: mypy cannot name it.
        _PINNED.extend(Response[method.__returning__] for method in HOT_METHODS)  # type: ignore[name-defined]


UNREAD_RESULTS: tuple[type[TelegramMethod[Any]], ...] = (EditMessageText, EditMessageReplyMarkup, AnswerCallbackQuery)
"""Methods whose successful result the bot never reads (an answer's result is always True)."""


class PreparedKeyboard(InlineKeyboardMarkup):
    """An inline keyboard sent as the JSON it was serialised to the first time. Never mutate."""

    _wire: str | None = PrivateAttr(default=None)


PRESSED_MESSAGE_READ = frozenset(
    {"message_id", "date", "chat", "from", "message_thread_id", "is_topic_message", "business_connection_id"}
)
"""What the conversation reads of the screen a script button was on: which message it is,
to edit or delete it (aiogram's `Message.edit_*` methods need no more)."""


def lighten_update(update: Any) -> Any:
    """Drop the text and keyboard that Telegram repeats with each press of a script button.

    Telegram sends back the whole message a button was on, keyboard included, and aiogram
    builds a model for every button: most of the cost of parsing a press (see
    docs/performance.md#lightened-presses). The
    conversation is driven by the stored state, never by what the old screen said, so a
    press on a script button (data that `dialogs.events.try_decode` reads) in a private chat
    comes with its message cut down to `PRESSED_MESSAGE_READ`. Every other press keeps
    everything: an association's notice, for one, is rebuilt from its own text and keyboard.
    """
    query = update.get("callback_query") if isinstance(update, dict) else None
    message = query.get("message") if isinstance(query, dict) else None
    data = query.get("data") if isinstance(query, dict) else None
    if (
        isinstance(query, dict)
        and isinstance(message, dict)
        and (message.get("chat") or {}).get("type") == "private"
        and isinstance(data, str)
        and try_decode(data) is not None
    ):
        query["message"] = {key: value for key, value in message.items() if key in PRESSED_MESSAGE_READ}
    return update


PLAIN = frozenset({str, int, bool, float})
"""Values sent as they are (an Enum or a model is prepared by aiogram's `prepare_value`)."""


def dumps(value: Any) -> str:
    """Compact JSON, ASCII only: any text, even a stray surrogate, encodes."""
    return json.dumps(value, separators=(",", ":"))


class LeanSession(AiohttpSession):
    """aiogram's session, with every call that carries no file sent as JSON by `JsonClient`.

    Uploads (there are none today) and proxies keep aiohttp's path, unchanged. Errors are
    raised as aiogram raises them, so callers see no difference.
    """

    def __init__(self, *, limit: int = 100, **kwargs: Any) -> None:
        super().__init__(limit=limit, **kwargs)
        self.http = JsonClient(
            user_agent=f"{SERVER_SOFTWARE} aiogram/{aiogram.__version__}",
            ssl_context=ssl.create_default_context(cafile=certifi.where()),
            limit=limit,
        )
        self._defaults: dict[str, tuple[DefaultBotProperties, Any]] = {}

    async def make_request(self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None) -> Any:
        body = None if self.proxy is not None else self.json_body(bot, method)
        if body is None:
            return await super().make_request(bot, method, timeout)
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        try:
            status, content = await self.http.post(url, body, self.timeout if timeout is None else timeout)
        except TimeoutError as error:
            raise TelegramNetworkError(method=method, message="Request timeout error") from error
        except OSError as error:
            raise TelegramNetworkError(method=method, message=f"{type(error).__name__}: {error}") from error
        return self.result_of(bot, method, status, content)

    def json_body(self, bot: Bot, method: TelegramMethod[Any]) -> bytes | None:
        """The call as one JSON object, or None when it carries a file (a multipart form, then)."""
        files: dict[str, Any] = {}
        fields: dict[str, Any] = {}
        wire = None
        values = method.__dict__.items()
        if method.__pydantic_extra__:
            values = {**method.__dict__, **method.__pydantic_extra__}.items()
        for key, value in values:
            if value is None:
                continue
            if type(value) in PLAIN:
                fields[key] = value
            elif isinstance(value, Default):
                if (default := self.default_value(bot, value)) is not None:
                    fields[key] = default
            elif isinstance(value, PreparedKeyboard):
                wire = value._wire
                if wire is None:
                    wire = value._wire = dumps(self.prepare_value(value, bot=bot, files=files, _dumps_json=False))
            elif (prepared := self.prepare_value(value, bot=bot, files=files, _dumps_json=False)) is not None:
                fields[key] = prepared
        if files:
            return None
        text = dumps(fields)
        if wire is not None:
            text = f'{text[:-1]}{"," if fields else ""}"reply_markup":{wire}}}'
        return text.encode()

    def default_value(self, bot: Bot, value: Default) -> Any:
        """A bot default (parse mode, link previews) as sent, prepared once per bot."""
        known = self._defaults.get(value.name)
        if known is None or known[0] is not bot.default:
            known = self._defaults[value.name] = (
                bot.default,
                self.prepare_value(value, bot=bot, files={}, _dumps_json=False),
            )
        return known[1]

    def result_of(self, bot: Bot, method: TelegramMethod[Any], status: int, content: bytes) -> Any:
        """The call's result; a refusal is raised exactly as aiogram raises it."""
        if status == HTTPStatus.OK:
            try:
                data = from_json(content)  # pydantic's parser: docs/performance.md#parsing-answers
            except ValueError:
                data = None
            if isinstance(data, dict) and data.get("ok") is True:
                if isinstance(method, UNREAD_RESULTS):
                    return True
                if isinstance(method, GetUpdates) and isinstance(data.get("result"), list):
                    for update in data["result"]:
                        lighten_update(update)
                try:
                    # A generic built at run time from the method's result type, as aiogram does: mypy cannot name it.
                    model = Response[method.__returning__]  # type: ignore[name-defined]
                    return model.model_validate(data, context={"bot": bot}).result
                except ValidationError:
                    pass  # let aiogram say what it cannot decode
        text = content.decode("utf-8", errors="replace")
        return self.check_response(bot=bot, method=method, status_code=status, content=text).result

    async def close(self) -> None:
        await self.http.close()
        await super().close()
