"""A fake Telegram Bot API server, and scripted users to talk to a bot through it.

Why: the bot's tests should run the real aiogram ``Bot``/``Dispatcher`` end to end, and a
mistake Telegram would refuse (a 65-byte callback_data, unescaped ``<`` under HTML, an
edit to identical content...) must fail in the tests, not in front of a person.

The server speaks the Bot API over HTTP (``POST {base}/bot{token}/{method}``), knows every
method of the machine-readable spec in ``tests/support/telegram/bot-api.json`` and refuses what
Telegram refuses, with Telegram's HTTP status, ``error_code`` and ``description``.

Usage::

    async with FakeTelegram() as fake:
        bot = fake.make_bot()            # or Bot(token, session=AiohttpSession(api=...))
        user = FakeUser(fake, 42)
        ... start the dispatcher polling with handle_as_tasks=False ...
        await user.send("/start")        # returns once the bot has handled the update
        await user.press("Oui")
        assert fake.refused == []

Webhook mode: once the bot calls ``setWebhook`` with a URL, ``push`` POSTs each update to
it as Telegram does (JSON body, ``X-Telegram-Bot-Api-Secret-Token`` when a secret token
was set, one update at a time per chat, up to ``max_connections`` at once), retries a
non-2xx answer or a network error ``webhook_attempts`` times ``webhook_retry_delay``
apart (every failed attempt is in ``webhook_failures``), and runs a method the bot
returns in its answer. ``processed`` then resolves on the 2xx answer; ``getUpdates`` is
refused with 409 while a webhook is set. ``FakeUser`` works the same in both modes.

Methods with real behaviour: getMe, getUpdates, set/delete/getWebhook(Info), logOut, close,
sendMessage, editMessageText, editMessageCaption, editMessageReplyMarkup, deleteMessage,
deleteMessages, answerCallbackQuery, set/get/deleteMyCommands, set/getMy(Short)Description,
set/getMyName, set/getChatMenuButton, sendChatAction, getChat, getChatMember,
forwardMessage(s), copyMessage(s).  Every other ``send*`` method that returns a Message
stores a message whose media field is a placeholder built from the spec.  Any other method
of the spec is validated (required fields, known chat), recorded, and answered with
``True`` when it returns a Boolean, ``[]`` when it returns an Array, or else a placeholder
object carrying the spec's required fields (so that aiogram can parse it).

Differences from Telegram, on purpose: the HTML parser is stricter (a bare ``>``, or an
``&`` that does not start ``&lt;``/``&gt;``/``&amp;``/``&quot;``/``&#N;``/``&#xH;``, is refused);
Markdown/MarkdownV2 text is stored as sent, unparsed; text length is counted in UTF-16 code
units of the text after entity parsing (what the person sees: an emoji or a CJK character
outside the BMP counts 2), the unit of Telegram's entity offsets and the stricter reading of
its "characters"; URLs, mentions and hashtags are not auto-detected as entities. A message
sent with ``protect_content`` carries ``has_protected_content``, and keeps it when edited.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import inspect
import itertools
import json
import logging
import os
import re
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import aiohttp
from aiohttp import web

if TYPE_CHECKING:
    from aiogram import Bot

__all__ = [
    "DEFAULT_BOT_ID",
    "DEFAULT_TOKEN",
    "SPEC_ENV",
    "ApiCall",
    "ApiSpec",
    "ChatState",
    "FakeTelegram",
    "FakeUser",
    "MethodSpec",
    "TelegramError",
    "WebhookDelivery",
    "default_spec_path",
    "parse_html",
]

JSON = dict[str, Any]

logger = logging.getLogger(__name__)

SPEC_ENV = "TELEGRAM_BOT_API_SPEC"
VENDORED_SPEC = Path(__file__).resolve().parent / "telegram" / "bot-api.json"
"""Bot API 10.1, from PaulSonOfLars/telegram-bot-api-spec (MIT): see its README beside it."""
DEFAULT_BOT_ID = 7000000001
DEFAULT_TOKEN = f"{DEFAULT_BOT_ID}:AAFakePasserelleTestToken-0123456789ab"

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_ANSWER_LIMIT = 200
CALLBACK_DATA_MAX_BYTES = 64
DELETE_WINDOW_SECONDS = 48 * 3600
WEBHOOK_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
WEBHOOK_DEFAULT_MAX_CONNECTIONS = 40

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
GET_UPDATES_CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
)
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)
SET_WEBHOOK_CONFLICT = "Conflict: terminated by setWebhook request"
DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
}
# Telegram does not send these update types unless allowed_updates names them.
OPT_IN_UPDATE_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
# Keys of an InlineKeyboardButton that do not make it do anything when pressed.
INLINE_BUTTON_COSMETIC_KEYS = frozenset({"text", "icon_custom_emoji_id", "style"})
# Message keys that describe where/when a message is, not what it contains (for copies).
MESSAGE_ENVELOPE_KEYS = frozenset(
    {
        "message_id",
        "from",
        "chat",
        "date",
        "edit_date",
        "reply_markup",
        "forward_origin",
        "reply_to_message",
        "message_thread_id",
        "is_topic_message",
        "via_bot",
    }
)

_INT_RE = re.compile(r"-?\d+")
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_CAMEL_RE = re.compile(r"(?<!^)(?=[A-Z])")
_QUOTED_RE = re.compile(r'"([^"]+)"')


# --------------------------------------------------------------------------- errors, records


class TelegramError(Exception):
    """A refusal, answered as ``{"ok": false, ...}`` with ``error_code`` as HTTP status."""

    def __init__(
        self,
        error_code: int,
        description: str,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
    ):
        super().__init__(f"{error_code} {description}")
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after
        self.migrate_to_chat_id = migrate_to_chat_id

    def payload(self) -> JSON:
        """The response body Telegram would send."""
        body: JSON = {"ok": False, "error_code": self.error_code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        if self.migrate_to_chat_id is not None:
            body["parameters"] = {"migrate_to_chat_id": self.migrate_to_chat_id}
        return body


def bad_request(detail: str) -> TelegramError:
    """400 with Telegram's ``Bad Request: `` prefix."""
    return TelegramError(400, f"Bad Request: {detail}")


@dataclass(slots=True)
class ApiCall:
    """One call the bot made, as tests see it in ``fake.requests``/``fake.refused``."""

    method: str
    params: JSON
    ok: bool
    error_code: int | None = None
    description: str | None = None
    result: Any = None
    injected: bool = False  # the failure came from fail_next/drop_next, not from validation
    at: int = 0  # fake clock, unix seconds


@dataclass(slots=True)
class WebhookDelivery:
    """One failed POST of an update to the bot's webhook, in ``fake.webhook_failures``."""

    update_id: int
    attempt: int
    status: int | None  # None: no HTTP answer (refused connection, timeout...)
    error: str  # "HTTP 401", or the client exception's type name
    at: int = 0  # fake clock, unix seconds


@dataclass(slots=True)
class _Fault:
    """A failure scheduled by ``fail_next``/``drop_next``."""

    error: TelegramError | None  # None: drop the connection
    after_processing: bool = False
    chat_id: int | None = None  # only calls to this chat (None: any call)


@dataclass(slots=True)
class ChatState:
    """What the fake knows about one chat: the chat object and its current messages."""

    id: int
    chat: JSON
    messages: dict[int, JSON] = field(default_factory=dict)
    next_message_id: int = 1
    blocked: bool = False
    kicked: bool = False  # the bot was removed from this group
    migrated_to: int | None = None  # this group was upgraded to that supergroup
    reply_keyboard: JSON | None = None  # the ReplyKeyboardMarkup the user currently sees
    members: dict[int, JSON] = field(default_factory=dict)  # user_id -> User dict

    def new_message_id(self) -> int:
        """Bot and user messages share one counter per chat, as in Telegram."""
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id


# --------------------------------------------------------------------------- the spec


@dataclass(frozen=True, slots=True)
class MethodSpec:
    """What the fake needs about one method, precomputed so requests never scan the spec."""

    name: str
    required: tuple[str, ...]
    kinds: dict[str, str]  # field -> str | int | bool | float | int_or_str | file | json
    returns: tuple[str, ...]


def default_spec_path() -> Path:
    """``$TELEGRAM_BOT_API_SPEC``, else the copy vendored in ``tests/support/telegram/``."""
    override = os.environ.get(SPEC_ENV)
    if override:
        path = Path(override)
        if not path.is_file():
            raise FileNotFoundError(f"{SPEC_ENV}={override!r} is not a file")
        return path
    path = VENDORED_SPEC
    if not path.is_file():
        raise FileNotFoundError(
            f"Telegram Bot API spec not found at {path}: set {SPEC_ENV} to the path of bot-api.json"
        )
    return path


def _field_kind(types: Iterable[str]) -> str:
    """How a form value of this spec type is decoded (aiogram JSON-encodes non-strings)."""
    key = tuple(types)
    simple = {
        ("String",): "str",
        ("Integer",): "int",
        ("Boolean",): "bool",
        ("Float",): "float",
        ("Integer", "String"): "int_or_str",
    }
    if key in simple:
        return simple[key]
    if "InputFile" in key:
        return "file"
    return "json"


class ApiSpec:
    """The Bot API spec, indexed for O(1) lookups (method names are case-insensitive)."""

    def __init__(self, raw: JSON):
        self.version: str = raw.get("version", "")
        self.types: dict[str, JSON] = raw["types"]
        self.methods: dict[str, MethodSpec] = {}
        for name, method in raw["methods"].items():
            fields = method.get("fields", [])
            self.methods[name.lower()] = MethodSpec(
                name=name,
                required=tuple(f["name"] for f in fields if f.get("required")),
                kinds={f["name"]: _field_kind(f["types"]) for f in fields},
                returns=tuple(method.get("returns", ())),
            )
        update_fields = [f["name"] for f in self.types["Update"]["fields"]]
        self.update_types: frozenset[str] = frozenset(update_fields) - {"update_id"}
        self.message_fields: dict[str, tuple[str, ...]] = {
            f["name"]: tuple(f["types"]) for f in self.types["Message"]["fields"]
        }
        # sendPhoto -> "photo", sendVideoNote -> "video_note": the Message field it fills.
        self.media_fields: dict[str, str] = {}
        for spec in self.methods.values():
            if spec.name.startswith("send") and spec.returns == ("Message",):
                snake = _CAMEL_RE.sub("_", spec.name[4:]).lower()
                if snake in self.message_fields:
                    self.media_fields[spec.name] = snake

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> ApiSpec:
        """Read and index ``bot-api.json``, once per file version.

        Why cached: the parsed spec is large (~200k objects) and read-only; sharing it keeps
        fixture setup at ~1 ms and spares the garbage collector. Nothing mutable is shared.
        """
        spec_path = Path(path) if path is not None else default_spec_path()
        if not spec_path.is_file():
            raise FileNotFoundError(f"Telegram Bot API spec not found at {spec_path}")
        resolved = spec_path.resolve()
        return _load_spec(str(resolved), resolved.stat().st_mtime_ns)

    def method(self, name: str) -> MethodSpec | None:
        """The method, whatever the case of ``name`` (Telegram ignores it)."""
        return self.methods.get(name.lower())

    def stub(self, type_name: str, _depth: int = 0) -> Any:
        """A minimal valid value of a spec type: its required fields, filled with defaults.

        Why: methods without real behaviour still have to return something aiogram can
        parse. Strings take the first quoted word of their description (so that
        discriminators such as ``status: always "creator"`` are right).
        """
        if type_name.startswith("Array of "):
            return []
        scalars: dict[str, Any] = {
            "Integer": 0,
            "String": "",
            "Boolean": False,
            "True": True,
            "Float": 0.0,
        }
        if type_name in scalars:
            return scalars[type_name]
        spec = self.types.get(type_name)
        if spec is None or _depth > 6:
            return {}
        if spec.get("subtypes"):
            return self.stub(spec["subtypes"][0], _depth + 1)
        value: JSON = {}
        for f in spec.get("fields", []):
            if not f.get("required"):
                continue
            first = f["types"][0]
            if first == "String":
                quoted = _QUOTED_RE.search(f.get("description", ""))
                value[f["name"]] = quoted.group(1) if quoted else ""
            else:
                value[f["name"]] = self.stub(first, _depth + 1)
        return value


@functools.lru_cache(maxsize=4)
def _load_spec(path: str, _mtime_ns: int) -> ApiSpec:
    with open(path, encoding="utf-8") as handle:
        return ApiSpec(json.load(handle))


# --------------------------------------------------------------------------- HTML parse mode


_HTML_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
    "tg-time": "date_time",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_SPECIAL = re.compile(r"[<>&]")
_TAG_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9-]*")
_ATTR_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_:-]*")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: the unit of MessageEntity offsets."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8"))


def _decode_entity(source: str, index: int) -> tuple[str, int]:
    """Decode the ``&...;`` at ``index``; return (character, index after it)."""
    end = source.find(";", index + 1, index + 12)
    if end < 0:
        raise ValueError(
            f'Character "&" is reserved and must be escaped as "&amp;" at byte offset {_byte_offset(source, index)}'
        )
    name = source[index + 1 : end]
    if name in _NAMED_ENTITIES:
        return _NAMED_ENTITIES[name], end + 1
    code: int | None = None
    if name[:2] in ("#x", "#X") and len(name) > 2:
        try:
            code = int(name[2:], 16)  # noqa: FURB166  (the prefix is '#x', not '0x')
        except ValueError:
            code = None
    elif name[:1] == "#" and name[1:].isdigit():
        code = int(name[1:])
    if code is None or not (0 < code <= 0x10FFFF) or 0xD800 <= code <= 0xDFFF:
        raise ValueError(f'Unsupported HTML entity "&{name};" at byte offset {_byte_offset(source, index)}')
    return chr(code), end + 1


def _decode_attr(source: str, value: str, at: int) -> str:
    """Attribute values may carry entities too (``href="?a=1&amp;b=2"``)."""
    if "&" not in value:
        return value
    out: list[str] = []
    i = 0
    while i < len(value):
        if value[i] == "&":
            try:
                ch, i = _decode_entity(value, i)
            except ValueError:
                raise ValueError(
                    f"Unsupported HTML entity in an attribute value at byte offset {_byte_offset(source, at)}"
                ) from None
            out.append(ch)
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def _parse_start_tag(source: str, index: int) -> tuple[str, dict[str, str], int]:
    """Parse ``<name attr="v" flag>`` at ``index``; return (name, attributes, index after)."""
    n = len(source)
    match = _TAG_NAME.match(source, index + 1)
    if match is None:
        raise ValueError(f'Unsupported start tag "" at byte offset {_byte_offset(source, index)}')
    name = match.group().lower()
    if name not in _HTML_ENTITY_TYPES:
        raise ValueError(f'Unsupported start tag "{name}" at byte offset {_byte_offset(source, index)}')
    attrs: dict[str, str] = {}
    i = match.end()
    while True:
        while i < n and source[i].isspace():
            i += 1
        if i >= n:
            raise ValueError(f"Unclosed start tag at byte offset {_byte_offset(source, index)}")
        if source[i] == ">":
            return name, attrs, i + 1
        attr = _ATTR_NAME.match(source, i)
        if attr is None:
            raise ValueError(
                f'Expected equal sign in declaration of an attribute of the tag "{name}" at '
                f"byte offset {_byte_offset(source, index)}"
            )
        attr_name = attr.group().lower()
        i = attr.end()
        while i < n and source[i].isspace():
            i += 1
        if i < n and source[i] == "=":
            i += 1
            while i < n and source[i].isspace():
                i += 1
            if i < n and source[i] in "\"'":
                quote = source[i]
                end = source.find(quote, i + 1)
                if end < 0:
                    raise ValueError(f"Unclosed end of attribute value at byte offset {_byte_offset(source, i)}")
                raw = source[i + 1 : end]
                i = end + 1
            else:
                start = i
                while i < n and not source[i].isspace() and source[i] != ">":
                    i += 1
                raw = source[start:i]
            attrs[attr_name] = _decode_attr(source, raw, index)
        else:
            attrs[attr_name] = ""  # a flag, e.g. <blockquote expandable>


def _start_entity(name: str, attrs: dict[str, str], source: str, at: int) -> JSON | None:
    """The MessageEntity a start tag opens (None: the tag only contributes a language)."""
    kind = _HTML_ENTITY_TYPES[name]
    entity: JSON = {"type": kind}
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise ValueError(f'Tag "span" must have class "tg-spoiler" at byte offset {_byte_offset(source, at)}')
    if name == "a":
        href = attrs.get("href", "")
        if href.startswith("tg://user?id="):
            user_id = href.removeprefix("tg://user?id=")
            if user_id.isdigit():
                return {
                    "type": "text_mention",
                    "user": {"id": int(user_id), "is_bot": False, "first_name": ""},
                }
        if not href:
            return None  # Telegram keeps the text, without a link
        entity["url"] = href
    elif name == "tg-emoji":
        emoji_id = attrs.get("emoji-id")
        if not emoji_id:
            raise ValueError(f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset {_byte_offset(source, at)}')
        entity["custom_emoji_id"] = emoji_id
    elif name == "tg-time":
        unix = attrs.get("unix", "")
        if not _INT_RE.fullmatch(unix):
            raise ValueError(
                f'Tag "tg-time" must have an integer attribute "unix" at byte offset {_byte_offset(source, at)}'
            )
        entity["unix_time"] = int(unix)
        if attrs.get("format"):
            entity["date_time_format"] = attrs["format"]
    elif name == "blockquote" and "expandable" in attrs:
        entity["type"] = "expandable_blockquote"
    return entity


def parse_html(source: str) -> tuple[str, list[JSON]]:
    """Parse Telegram's HTML parse mode strictly; return (plain text, entities).

    Raises ValueError with a Telegram-like message ("Unsupported start tag \\"br\\" at byte
    offset 5", "Can't find end tag corresponding to start tag \\"b\\"", ...). Entity offsets
    and lengths are in UTF-16 code units, as in the Bot API.
    """
    out: list[str] = []
    pos16 = 0  # UTF-16 length of the text produced so far
    stack: list[tuple[str, JSON | None, int]] = []  # (tag, entity, start offset)
    entities: list[JSON] = []
    n = len(source)
    i = 0
    while i < n:
        special = _HTML_SPECIAL.search(source, i)
        stop = special.start() if special else n
        if stop > i:
            chunk = source[i:stop]
            out.append(chunk)
            pos16 += utf16_len(chunk)
            i = stop
            continue
        ch = source[i]
        if ch == "&":
            decoded, i = _decode_entity(source, i)
            out.append(decoded)
            pos16 += utf16_len(decoded)
        elif ch == ">":
            raise ValueError(
                f'Character ">" is reserved and must be escaped as "&gt;" at byte offset {_byte_offset(source, i)}'
            )
        elif source.startswith("</", i):
            end = source.find(">", i)
            if end < 0:
                raise ValueError(f"Unclosed end tag at byte offset {_byte_offset(source, i)}")
            name = source[i + 2 : end].strip().lower()
            if not stack:
                raise ValueError(f"Unexpected end tag at byte offset {_byte_offset(source, i)}")
            open_name, entity, start = stack.pop()
            if name != open_name:
                raise ValueError(
                    f"Unmatched end tag at byte offset {_byte_offset(source, i)}, expected "
                    f'"</{open_name}>", found "</{name}>"'
                )
            if entity is not None and pos16 > start:
                entity["offset"] = start
                entity["length"] = pos16 - start
                entities.append(entity)
            i = end + 1
        else:
            name, attrs, after = _parse_start_tag(source, i)
            entity = _start_entity(name, attrs, source, i)
            if name == "code" and stack and stack[-1][0] == "pre":
                language = attrs.get("class", "")
                pre_entity = stack[-1][1]
                if language.startswith("language-") and pre_entity is not None:
                    pre_entity["language"] = language.removeprefix("language-")
            stack.append((name, entity, pos16))
            i = after
    if stack:
        raise ValueError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _strip_text(text: str, entities: list[JSON] | None) -> tuple[str, list[JSON] | None]:
    """Trim surrounding whitespace like Telegram, moving entities along."""
    stripped = text.strip()
    if stripped == text or not entities:
        return stripped, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    kept: list[JSON] = []
    for entity in entities:
        start = max(int(entity.get("offset", 0)) - lead, 0)
        end = min(int(entity.get("offset", 0)) + int(entity.get("length", 0)) - lead, total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


# --------------------------------------------------------------------------- the server


class FakeTelegram:
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
        self._faults: dict[str, deque[_Fault]] = {}
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

    # ----------------------------------------------------------------- fault injection

    def fail_next(
        self,
        method: str,
        *,
        error_code: int = 429,
        retry_after: int = 1,
        description: str | None = None,
        times: int = 1,
        chat_id: int | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with ``error_code``; with
        ``chat_id``, only calls to that chat (Telegram limits the rate per chat, too).

        429 carries ``parameters.retry_after``; default descriptions are Telegram's
        ("Too Many Requests: retry after N", "Internal Server Error", "Bad Gateway",
        "Forbidden: bot was blocked by the user"). With ``chat_id``, only calls to that
        chat fail; calls to other chats go through untouched.
        """
        if description is None:
            if error_code == 429:
                description = f"Too Many Requests: retry after {retry_after}"
            else:
                description = DEFAULT_DESCRIPTIONS.get(error_code, "Error")
        error = TelegramError(error_code, description, retry_after if error_code == 429 else None)
        self._schedule(method, _Fault(error, chat_id=chat_id), times)

    def clear_faults(self, method: str) -> None:
        """Forget the failures still scheduled for ``method`` (the outage is over)."""
        self._faults.pop(method, None)

    def drop_next(
        self, method: str, times: int = 1, *, after_processing: bool = False, chat_id: int | None = None
    ) -> None:
        """Close the connection on the next ``times`` calls of ``method`` (to ``chat_id`` only,
        when given), without answering.

        ``after_processing=True`` drops the answer after the call took effect (the message
        is sent, but the bot sees a network error), to test retries for duplicates.
        """
        self._schedule(method, _Fault(None, after_processing, chat_id), times)

    def delay_next(self, method: str, seconds: float, times: int = 1) -> None:
        """Hold the answer to the next ``times`` calls of ``method`` for ``seconds`` (the call
        takes effect after the delay); each one is added to ``delayed`` as it starts waiting."""
        spec = self.spec.method(method)
        if spec is None:
            raise ValueError(f"{method!r} is not a Bot API method")
        self._delays.setdefault(spec.name, deque()).extend([seconds] * times)

    def _take_fault(self, name: str, params: JSON) -> _Fault | None:
        """The first fault scheduled for this call, if any, taken off the queue."""
        faults = self._faults.get(name)
        for fault in faults or ():
            if fault.chat_id is None or str(fault.chat_id) == str(params.get("chat_id")):
                faults.remove(fault)  # type: ignore[union-attr]
                return fault
        return None

    def _schedule(self, method: str, fault: _Fault, times: int) -> None:
        spec = self.spec.method(method)
        if spec is None:
            raise ValueError(f"{method!r} is not a Bot API method")
        self._faults.setdefault(spec.name, deque()).extend([fault] * times)

    # ----------------------------------------------------------------- chats and updates

    def add_chat(
        self,
        chat_id: int,
        chat_type: str = "private",
        *,
        title: str | None = None,
        user: JSON | None = None,
        username: str | None = None,
    ) -> ChatState:
        """Make a chat known (sending to unknown chats is refused); idempotent."""
        state = self.chats.get(chat_id)
        if state is None:
            chat: JSON = {"id": chat_id, "type": chat_type}
            if chat_type == "private":
                source = user or {"first_name": "Test"}
                for key in ("first_name", "last_name", "username"):
                    if source.get(key) is not None:
                        chat[key] = source[key]
            else:
                chat["title"] = title or "Test group"
                if username:
                    chat["username"] = username
            state = ChatState(id=chat_id, chat=chat)
            self.chats[chat_id] = state
            if chat_type != "private" and username:
                self._chats_by_username[username.lower()] = state
        elif state.chat["type"] != chat_type:
            raise ValueError(f"chat {chat_id} is a {state.chat['type']} chat, not {chat_type}")
        if user is not None:
            state.members[user["id"]] = user
        return state

    def migrate_chat(self, chat_id: int, new_chat_id: int) -> ChatState:
        """Upgrade a group to a supergroup, as Telegram does: the supergroup has a new id and
        the group's history; sending to the old id answers 400 with ``migrate_to_chat_id``."""
        old = self.chats[chat_id]
        if old.chat["type"] != "group":
            raise ValueError(f"chat {chat_id} is not a group")
        new = self.add_chat(new_chat_id, "supergroup", title=old.chat.get("title"))
        new.members.update(old.members)
        for message_id, message in old.messages.items():
            new.messages[message_id] = {**message, "chat": new.chat}
        new.next_message_id = old.next_message_id
        old.migrated_to = new_chat_id
        return new

    def kick_bot(self, chat_id: int) -> None:
        """Remove the bot from a group: sends answer 403 "bot was kicked from the group chat"."""
        self.chats[chat_id].kicked = True

    def delete_chat(self, chat_id: int) -> None:
        """The chat no longer exists (deleted group): sends answer 400 "chat not found"."""
        state = self.chats.pop(chat_id)
        username = state.chat.get("username")
        if username:
            self._chats_by_username.pop(str(username).lower(), None)

    def add_user_message(self, chat_id: int, user: JSON, fields: JSON) -> JSON:
        """Store a message from a user (as Telegram would) and return it; no update."""
        chat = self.chats[chat_id]
        message: JSON = {
            "message_id": chat.new_message_id(),
            "from": user,
            "chat": chat.chat,
            "date": self.now(),
            **fields,
        }
        chat.messages[message["message_id"]] = message
        return message

    def push(self, payload: JSON) -> JSON:
        """Queue an update (``payload`` without ``update_id``) for getUpdates, or POST it to
        the webhook when one is set; return it.

        Updates of types excluded by the bot's ``allowed_updates`` are not delivered (as
        in Telegram) and count as processed at once; see ``filtered_updates``.
        """
        update = {"update_id": next(self._ids), **payload}
        self.updates.append(update)
        kind = next((k for k in payload if k != "update_id"), "")
        if kind not in self._allowed:
            self.filtered_updates.append(update)
            self._filtered_ids.add(update["update_id"])
        else:
            self._queue.append(update)
            self._wake_pollers()
            if self.webhook.get("url"):
                self._schedule_delivery(update)
        self._notify()
        return update

    async def processed(self, update_id: int, timeout: float = 5) -> None:
        """Wait until the bot has handled ``update_id``: it polled with a higher offset.

        With ``handle_as_tasks=False`` aiogram polls again only after the handler returned,
        so every call the handler made has been answered and recorded by then.
        """
        if update_id in self._dropped:
            raise AssertionError(f"update {update_id} was dropped by deleteWebhook(drop_pending_updates=True)")
        if update_id in self._webhook_given_up:
            raise AssertionError(self._webhook_given_up[update_id])
        if self._is_confirmed(update_id):
            return
        future = self._waiters.get(update_id)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._waiters[update_id] = future
            heapq.heappush(self._waiter_heap, update_id)
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            if self.webhook.get("url"):
                raise AssertionError(
                    f"the bot did not finish update {update_id} within {timeout} s: no 2xx answer "
                    f"to its webhook POST yet ({len(self.webhook_failures)} failed POST(s) so far)"
                ) from None
            raise AssertionError(
                f"the bot did not finish update {update_id} within {timeout} s: no getUpdates "
                f"with offset > {update_id} (last offset seen: {self._last_offset}; "
                f"{len(self._queue)} update(s) pending). Is the dispatcher polling this fake "
                f"with handle_as_tasks=False, or is a handler stuck?"
            ) from None

    def _is_confirmed(self, update_id: int) -> bool:
        return update_id < self._confirmed_below or update_id in self._filtered_ids or update_id in self._webhook_done

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5) -> Any:
        """Wait until ``predicate()`` (sync or async) is truthy; re-checked after every
        request and push. Return its value; AssertionError on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = predicate()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                name = getattr(predicate, "__name__", repr(predicate))
                raise AssertionError(f"condition {name} still false after {timeout} s")
            if self._activity is None:
                self._activity = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._activity.wait(), remaining)

    @property
    def polls(self) -> int:
        """How many getUpdates calls have begun: the bot is polling once this is above 0."""
        return self._poll_generation

    def unanswered_callback_queries(self) -> list[str]:
        """Ids of callback queries the bot never answered (the user sees a spinner)."""
        return [qid for qid, q in self._callback_queries.items() if not q["answered"]]

    def _notify(self) -> None:
        if self._activity is not None:
            self._activity.set()
            self._activity = None

    def _wake_pollers(self) -> None:
        self._poll_event.set()
        self._poll_event = asyncio.Event()

    def _confirm(self, offset: int | None) -> None:
        """Forget updates below ``offset`` and release ``processed`` waiters."""
        if offset is None:
            return
        self._last_offset = offset
        queue = self._queue
        if offset < 0:
            while len(queue) > -offset:
                self._confirmed_below = queue.popleft()["update_id"] + 1
        else:
            while queue and queue[0]["update_id"] < offset:
                queue.popleft()
            self._confirmed_below = max(self._confirmed_below, offset)
        heap = self._waiter_heap
        while heap and heap[0] < self._confirmed_below:
            future = self._waiters.pop(heapq.heappop(heap), None)
            if future is not None and not future.done():
                future.set_result(None)

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
        fault: _Fault | None = None
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
                return int(value) if _INT_RE.fullmatch(value) else value
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
        if value[:1] in ("{", "[") or value in ("true", "false") or _INT_RE.fullmatch(value):
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

    # ----------------------------------------------------------------- getUpdates

    async def _get_updates(self, params: JSON, request: web.Request) -> list[JSON]:
        """Long polling: answer at once if updates are queued, else wait for a push."""
        if self.webhook.get("url"):
            raise TelegramError(409, WEBHOOK_CONFLICT)
        offset = params.get("offset")
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed = frozenset(allowed) if allowed else self.spec.update_types - OPT_IN_UPDATE_TYPES
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake_pollers()  # an older poll now answers 409, as Telegram does
        self._notify()  # `polls` changed
        self._confirm(offset)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._stopping:
                return []
            if generation != self._poll_generation:
                raise TelegramError(409, GET_UPDATES_CONFLICT)
            if self.webhook.get("url"):
                raise TelegramError(409, SET_WEBHOOK_CONFLICT)
            if self._queue:
                return list(itertools.islice(self._queue, limit))
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            try:
                await asyncio.wait_for(self._poll_event.wait(), remaining)
            except TimeoutError:
                return []

    def _set_webhook(self, _spec: MethodSpec, params: JSON) -> bool:
        secret = params.get("secret_token")
        if secret is not None and not WEBHOOK_SECRET_RE.fullmatch(str(secret)):
            raise bad_request("secret token contains unallowed characters")
        if not params.get("url"):  # an empty URL removes the webhook, as deleteWebhook does
            return self._delete_webhook(_spec, params)
        self.webhook = {k: v for k, v in params.items() if k != "certificate"}
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed = frozenset(allowed) if allowed else self.spec.update_types - OPT_IN_UPDATE_TYPES
        self._webhook_slots = asyncio.Semaphore(int(params.get("max_connections") or WEBHOOK_DEFAULT_MAX_CONNECTIONS))
        if params.get("drop_pending_updates"):
            self._drop_pending()
        self._wake_pollers()  # a waiting long poll now answers 409
        for update in list(self._queue):  # pending updates go to the new webhook
            self._schedule_delivery(update)
        return True

    def _delete_webhook(self, _spec: MethodSpec, params: JSON) -> bool:
        self.webhook = {"url": ""}
        if params.get("drop_pending_updates"):
            self._drop_pending()
        return True

    def _drop_pending(self) -> None:
        """drop_pending_updates=True: the queued updates are lost, as in Telegram."""
        if not self._queue:
            return
        self._dropped.update(u["update_id"] for u in self._queue)
        last = self._queue[-1]["update_id"]
        self._queue.clear()
        for update_id in list(self._waiters):
            if update_id <= last:
                future = self._waiters.pop(update_id)
                if not future.done():
                    future.set_exception(AssertionError(f"update {update_id} was dropped by drop_pending_updates=True"))
        self._confirmed_below = max(self._confirmed_below, last + 1)

    def _get_webhook_info(self, _spec: MethodSpec, _params: JSON) -> JSON:
        info: JSON = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }
        for key in ("max_connections", "allowed_updates", "ip_address", "last_error_date", "last_error_message"):
            if key in self.webhook:
                info[key] = self.webhook[key]
        return info

    # ----------------------------------------------------------------- webhook delivery

    def _schedule_delivery(self, update: JSON) -> None:
        update_id = update["update_id"]
        if update_id in self._webhook_scheduled or update_id in self._webhook_done:
            return
        self._webhook_scheduled.add(update_id)
        self._webhook_given_up.pop(update_id, None)
        task = asyncio.get_running_loop().create_task(self._deliver(update))
        self._webhook_tasks.add(task)
        task.add_done_callback(self._webhook_tasks.discard)

    @staticmethod
    def _delivery_key(update: JSON) -> Hashable:
        """Telegram sends one update at a time per chat (or per user, for updates without
        a chat); different chats are served concurrently."""
        body = next((v for k, v in update.items() if k != "update_id"), None)
        if isinstance(body, dict):
            chat = body.get("chat") or (body.get("message") or {}).get("chat")
            if isinstance(chat, dict) and "id" in chat:
                return ("chat", chat["id"])
            user = body.get("from") or body.get("user")
            if isinstance(user, dict) and "id" in user:
                return ("user", user["id"])
        return ("update", update["update_id"])

    async def _deliver(self, update: JSON) -> None:
        """POST ``update`` to the webhook until a 2xx answer, or give up after a few tries.

        An update not delivered stays queued (``getUpdates`` gets it once the webhook is
        deleted; a new ``setWebhook`` tries again), as in Telegram.
        """
        update_id = update["update_id"]
        lock = self._webhook_locks.setdefault(self._delivery_key(update), asyncio.Lock())
        try:
            async with lock:
                for attempt in range(1, self.webhook_attempts + 1):
                    url = self.webhook.get("url")
                    if not url or self._stopping:
                        return
                    async with self._webhook_slots:
                        status, error = await self._post_update(url, update)
                    if status is not None and 200 <= status < 300:
                        self._delivered(update)
                        return
                    failure = WebhookDelivery(update_id, attempt, status, error, self.now())
                    self.webhook_failures.append(failure)
                    self.webhook["last_error_date"] = failure.at
                    self.webhook["last_error_message"] = error
                    self._notify()
                    if attempt < self.webhook_attempts:
                        await asyncio.sleep(self.webhook_retry_delay)
                message = f"webhook delivery of update {update_id} failed {self.webhook_attempts} times: " + ", ".join(
                    f.error for f in self.webhook_failures if f.update_id == update_id
                )
                self._webhook_given_up[update_id] = message
                future = self._waiters.pop(update_id, None)
                if future is not None and not future.done():
                    future.set_exception(AssertionError(message))
                self._notify()
        finally:
            self._webhook_scheduled.discard(update_id)

    async def _post_update(self, url: str, update: JSON) -> tuple[int | None, str]:
        """One POST; returns (HTTP status or None, what went wrong or "")."""
        headers = {"Content-Type": "application/json"}
        secret = self.webhook.get("secret_token")
        if secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = str(secret)
        if self._webhook_client is None or self._webhook_client.closed:
            self._webhook_client = aiohttp.ClientSession()
        body = json.dumps(update, ensure_ascii=False).encode()
        try:
            async with self._webhook_client.post(
                url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
            ) as response:
                if 200 <= response.status < 300:
                    await self._run_webhook_answer(response)
                else:
                    await response.read()
                return response.status, "" if response.status < 300 else f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return None, type(exc).__name__

    async def _run_webhook_answer(self, response: aiohttp.ClientResponse) -> None:
        """A method returned in the answer to a webhook POST is executed (its result is not
        sent anywhere), as Telegram does; aiogram sends it as multipart form data."""
        raw: JSON = {}
        files: dict[str, JSON] = {}
        if response.content_type == "multipart/form-data":
            reader = aiohttp.MultipartReader.from_response(response)
            while (part := await reader.next()) is not None:
                if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
                    continue
                if part.filename:
                    data = await part.read()
                    files[part.name] = {
                        "filename": part.filename,
                        "content_type": part.headers.get("Content-Type"),
                        "data": bytes(data),
                    }
                else:
                    raw[part.name] = await part.text()
        elif response.content_type == "application/json":
            try:
                body = await response.json()
            except ValueError:
                return
            if isinstance(body, dict):
                raw = body
        method = raw.pop("method", None)
        if not method:
            return
        spec = self.spec.method(str(method))
        name = spec.name if spec else str(method)
        params: JSON = {}
        try:
            if spec is None:
                raise TelegramError(404, "Not Found")
            params = {k: self._decode(spec, k, v, files) for k, v in raw.items()}
            result = await self._dispatch(spec, params, None)
        except TelegramError as error:
            self._record(name, params, error)
            return
        if self.keep_requests:
            self.requests.append(ApiCall(name, params, True, result=result, at=self.now()))

    def _delivered(self, update: JSON) -> None:
        update_id = update["update_id"]
        self._webhook_done.add(update_id)
        with contextlib.suppress(ValueError):
            self._queue.remove(update)
        future = self._waiters.pop(update_id, None)
        if future is not None and not future.done():
            future.set_result(None)
        self._notify()

    # ----------------------------------------------------------------- validation helpers

    def _chat(self, chat_id: Any) -> ChatState:
        """The chat named by ``chat_id`` (id or @username), or "chat not found"."""
        state: ChatState | None = None
        if isinstance(chat_id, int):
            state = self.chats.get(chat_id)
        elif isinstance(chat_id, str) and chat_id.startswith("@"):
            state = self._chats_by_username.get(chat_id[1:].lower())
        if state is None:
            raise bad_request("chat not found")
        return state

    @staticmethod
    def _not_migrated(chat: ChatState) -> ChatState:
        """A group upgraded to a supergroup takes no more calls: Telegram points to the new id."""
        if chat.migrated_to is not None:
            raise TelegramError(
                400, "Bad Request: group chat was upgraded to a supergroup chat", migrate_to_chat_id=chat.migrated_to
            )
        return chat

    def _target(self, params: JSON) -> ChatState:
        """The chat a message is sent to: known, and the user has not blocked the bot."""
        chat = self._not_migrated(self._chat(params.get("chat_id")))
        if chat.kicked:
            raise TelegramError(403, "Forbidden: bot was kicked from the group chat")
        if chat.blocked:
            raise TelegramError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _format(
        self,
        params: JSON,
        key: str,
        *,
        limit: int,
        too_long: str,
        empty: str | None = None,
    ) -> tuple[str, list[JSON] | None] | None:
        """Parse ``params[key]`` per its parse mode; check emptiness and length."""
        text = params.get(key)
        if text is None:
            if empty is not None:
                raise bad_request(empty)
            return None
        text = str(text)
        mode_key = "parse_mode" if key in ("text", "caption") else f"{key}_parse_mode"
        entities_key = "entities" if key == "text" else f"{key}_entities"
        mode = params.get(mode_key)
        entities: list[JSON] | None = None
        if mode:
            lowered = str(mode).lower()
            if lowered == "html":
                try:
                    text, entities = parse_html(text)
                except ValueError as error:
                    raise bad_request(f"can't parse entities: {error}") from None
            elif lowered not in ("markdown", "markdownv2"):
                raise bad_request("unsupported parse_mode")
        elif isinstance(params.get(entities_key), list):
            entities = params[entities_key]
        text, entities = _strip_text(text, entities)
        if empty is not None and not text:
            raise bad_request(empty)
        if utf16_len(text) > limit:
            raise bad_request(too_long)
        return text, entities or None

    def _check_markup(self, markup: Any) -> JSON | None:
        """Validate a reply_markup; return the inline keyboard the message will carry."""
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise bad_request("can't parse inline keyboard markup: rows must be arrays")
            count = 0
            for row in rows:
                for button in row:
                    self._check_inline_button(button)
                    count += 1
            return markup if count else None  # Telegram drops empty keyboards
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise bad_request("can't parse keyboard markup: rows must be arrays")
            for row in rows:
                for button in row:
                    text = button.get("text") if isinstance(button, dict) else button
                    if not isinstance(text, str) or not text.strip():
                        raise bad_request("keyboard button text is empty")
            return None
        if "remove_keyboard" in markup or "force_reply" in markup:
            return None
        raise bad_request("can't parse reply keyboard markup JSON object")

    @staticmethod
    def _check_inline_button(button: Any) -> None:
        if not isinstance(button, dict):
            raise bad_request("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
        text = button.get("text")
        if not isinstance(text, str) or not text.strip():
            raise bad_request("text buttons are unallowed in the inline keyboard")
        if not any(key not in INLINE_BUTTON_COSMETIC_KEYS for key in button):
            raise bad_request("text buttons are unallowed in the inline keyboard")
        if "callback_data" in button:
            data = button["callback_data"]
            if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= CALLBACK_DATA_MAX_BYTES:
                raise bad_request("BUTTON_DATA_INVALID")
        if "url" in button:
            url = button["url"]
            if not isinstance(url, str) or not url or any(ch.isspace() for ch in url):
                raise bad_request("BUTTON_URL_INVALID")

    @staticmethod
    def _apply_keyboard(chat: ChatState, markup: Any) -> None:
        """Reply keyboards are not part of the message: they stay shown in the chat."""
        if isinstance(markup, dict):
            if "keyboard" in markup:
                chat.reply_keyboard = markup
            elif "remove_keyboard" in markup:
                chat.reply_keyboard = None

    def _reply_to(self, chat: ChatState, params: JSON) -> JSON | None:
        """The message replied to, or "message to be replied not found"."""
        reply = params.get("reply_parameters")
        if isinstance(reply, dict):
            message_id = reply.get("message_id")
            allow = bool(reply.get("allow_sending_without_reply"))
            if reply.get("chat_id") not in (None, chat.id):
                return None  # replies across chats are not modelled
        elif params.get("reply_to_message_id") is not None:
            message_id = params["reply_to_message_id"]
            allow = bool(params.get("allow_sending_without_reply"))
        else:
            return None
        target = chat.messages.get(message_id) if isinstance(message_id, int) else None
        if target is None and not allow:
            raise bad_request("message to be replied not found")
        if target is None:
            return None
        return {k: v for k, v in target.items() if k != "reply_to_message"}

    def _store_bot_message(self, chat: ChatState, fields: JSON, params: JSON) -> JSON:
        """Create a bot message in ``chat`` (after every check passed) and return it."""
        reply = self._reply_to(chat, params)
        inline = self._check_markup(params.get("reply_markup"))
        message: JSON = {
            "message_id": chat.new_message_id(),
            "from": self._bot_from,
            "chat": chat.chat,
            "date": self.now(),
        }
        if reply is not None:
            message["reply_to_message"] = reply
        if params.get("protect_content"):
            message["has_protected_content"] = True
        message.update(fields)
        if inline is not None:
            message["reply_markup"] = inline
        self._apply_keyboard(chat, params.get("reply_markup"))
        chat.messages[message["message_id"]] = message
        return message

    def _bot_message(self, params: JSON, missing: str) -> tuple[ChatState, JSON]:
        """The bot's own message named by chat_id/message_id, or ``missing``."""
        chat = self._not_migrated(self._chat(params.get("chat_id")))
        message = chat.messages.get(params.get("message_id"))  # type: ignore[arg-type]
        if message is None or message.get("from", {}).get("id") != self._bot_from["id"]:
            raise bad_request(missing)
        return chat, message

    def _replace(self, chat: ChatState, message: JSON, changes: JSON) -> JSON:
        """Copy-on-write edit: updates already queued keep the version they were built with."""
        edited = {**message, **changes, "edit_date": self.now()}
        for key, value in changes.items():
            if value is None:
                del edited[key]
        chat.messages[message["message_id"]] = edited
        return edited

    # ----------------------------------------------------------------- messages

    def _send_message(self, _spec: MethodSpec, params: JSON) -> JSON:
        chat = self._target(params)
        formatted = self._format(
            params, "text", limit=TEXT_LIMIT, too_long="message is too long", empty="message text is empty"
        )
        assert formatted is not None
        text, entities = formatted
        fields: JSON = {"text": text}
        if entities:
            fields["entities"] = entities
        if isinstance(params.get("link_preview_options"), dict):
            fields["link_preview_options"] = params["link_preview_options"]
        return self._store_bot_message(chat, fields, params)

    def _edit_message_text(self, _spec: MethodSpec, params: JSON) -> JSON | bool:
        has_rich = params.get("rich_message") is not None
        formatted = None
        if params.get("text") is not None or not has_rich:
            formatted = self._format(
                params,
                "text",
                limit=TEXT_LIMIT,
                too_long="message is too long",
                empty="message text is empty",
            )
        markup = self._check_markup(params.get("reply_markup"))
        if params.get("inline_message_id"):
            return True  # inline messages are not modelled
        chat, message = self._bot_message(params, "message to edit not found")
        if formatted is None:  # rich message edit: not modelled beyond bookkeeping
            return self._replace(chat, message, {"reply_markup": markup})
        if "text" not in message:
            raise bad_request("there is no text in the message to edit")
        text, entities = formatted
        if (
            message.get("text") == text
            and message.get("entities") == entities
            and message.get("reply_markup") == markup
        ):
            raise bad_request(NOT_MODIFIED)
        return self._replace(chat, message, {"text": text, "entities": entities, "reply_markup": markup})

    def _edit_message_caption(self, _spec: MethodSpec, params: JSON) -> JSON | bool:
        formatted = self._format(params, "caption", limit=CAPTION_LIMIT, too_long="message caption is too long")
        markup = self._check_markup(params.get("reply_markup"))
        if params.get("inline_message_id"):
            return True
        chat, message = self._bot_message(params, "message to edit not found")
        if "text" in message:
            raise bad_request("there is no caption in the message to edit")
        caption, entities = formatted if formatted else (None, None)
        if (
            message.get("caption") == caption
            and message.get("caption_entities") == entities
            and message.get("reply_markup") == markup
        ):
            raise bad_request(NOT_MODIFIED)
        return self._replace(
            chat,
            message,
            {"caption": caption or None, "caption_entities": entities, "reply_markup": markup},
        )

    def _edit_message_reply_markup(self, _spec: MethodSpec, params: JSON) -> JSON | bool:
        markup = self._check_markup(params.get("reply_markup"))
        if params.get("inline_message_id"):
            return True
        chat, message = self._bot_message(params, "message to edit not found")
        if message.get("reply_markup") == markup:
            raise bad_request(NOT_MODIFIED)
        return self._replace(chat, message, {"reply_markup": markup})

    def _delete_message(self, _spec: MethodSpec, params: JSON) -> bool:
        chat = self._not_migrated(self._chat(params.get("chat_id")))
        message = chat.messages.get(params.get("message_id"))  # type: ignore[arg-type]
        if message is None:
            raise bad_request("message to delete not found")
        if self.now() - message["date"] > DELETE_WINDOW_SECONDS:
            raise bad_request("message can't be deleted")
        del chat.messages[message["message_id"]]
        return True

    def _delete_messages(self, _spec: MethodSpec, params: JSON) -> bool:
        chat = self._not_migrated(self._chat(params.get("chat_id")))
        ids = params.get("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise bad_request("message_ids must contain 1-100 message identifiers")
        now = self.now()
        for message_id in ids:  # missing or too old ones are skipped, as in Telegram
            message = chat.messages.get(message_id)
            if message is not None and now - message["date"] <= DELETE_WINDOW_SECONDS:
                del chat.messages[message_id]
        return True

    def _copy_content(self, params: JSON, missing: str) -> JSON:
        source_chat = self._chat(params.get("from_chat_id"))
        source = source_chat.messages.get(params.get("message_id"))  # type: ignore[arg-type]
        if source is None:
            raise bad_request(missing)
        return source

    def _forward_message(self, _spec: MethodSpec, params: JSON) -> JSON:
        chat = self._target(params)
        source = self._copy_content(params, "message to forward not found")
        fields = {k: v for k, v in source.items() if k not in MESSAGE_ENVELOPE_KEYS}
        fields["forward_origin"] = source.get("forward_origin") or {
            "type": "user",
            "date": source["date"],
            "sender_user": source["from"],
        }
        return self._store_bot_message(chat, fields, {})

    def _forward_messages(self, spec: MethodSpec, params: JSON) -> list[JSON]:
        ids = params.get("message_ids") or []
        return [{"message_id": self._forward_message(spec, {**params, "message_id": i})["message_id"]} for i in ids]

    def _copy_message(self, _spec: MethodSpec, params: JSON) -> JSON:
        chat = self._target(params)
        source = self._copy_content(params, "message to copy not found")
        fields = {k: v for k, v in source.items() if k not in MESSAGE_ENVELOPE_KEYS}
        if "caption" in params and "text" not in fields:
            formatted = self._format(params, "caption", limit=CAPTION_LIMIT, too_long="message caption is too long")
            fields.pop("caption_entities", None)
            if formatted:
                fields["caption"], entities = formatted
                if entities:
                    fields["caption_entities"] = entities
        message = self._store_bot_message(chat, fields, params)
        return {"message_id": message["message_id"]}

    def _copy_messages(self, spec: MethodSpec, params: JSON) -> list[JSON]:
        ids = params.get("message_ids") or []
        return [self._copy_message(spec, {**params, "message_id": i}) for i in ids]

    def _send_media(self, spec: MethodSpec, params: JSON) -> JSON:
        """sendPhoto, sendSticker, sendLocation...: a message whose media is a placeholder."""
        chat = self._target(params)
        fields: JSON = {}
        if "caption" in spec.kinds:
            formatted = self._format(params, "caption", limit=CAPTION_LIMIT, too_long="message caption is too long")
            if formatted and formatted[0]:
                fields["caption"] = formatted[0]
                if formatted[1]:
                    fields["caption_entities"] = formatted[1]
        media = self.spec.media_fields[spec.name]
        fields[media] = self._media_value(media, params)
        return self._store_bot_message(chat, fields, params)

    def _media_value(self, media: str, params: JSON) -> Any:
        """Spec stub of the Message field, with matching scalar params (latitude, emoji...)."""
        type_name = self.spec.message_fields[media][0]
        is_array = type_name.startswith("Array of ")
        inner = type_name.removeprefix("Array of ")
        value = self.spec.stub(inner)
        serial = next(self._file_ids)
        if isinstance(value, dict):
            for key in list(value):
                param = params.get(key)
                if isinstance(param, (str, int, float, bool)) and not isinstance(value[key], dict):
                    value[key] = param
                elif isinstance(value[key], dict):
                    for sub in list(value[key]):
                        if isinstance(params.get(sub), (str, int, float)):
                            value[key][sub] = params[sub]
            if "file_id" in value:
                sent = params.get(media)
                value["file_id"] = sent if isinstance(sent, str) else f"fake-file-{serial}"
                value["file_unique_id"] = f"fake-unique-{serial}"
            if media == "dice":
                value["emoji"] = params.get("emoji") or "🎲"
                value["value"] = 1 + serial % 6
        return [value] if is_array else value

    def _send_chat_action(self, _spec: MethodSpec, params: JSON) -> bool:
        self._target(params)
        if params.get("action") not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    def _get_chat(self, _spec: MethodSpec, params: JSON) -> JSON:
        chat = self._chat(params.get("chat_id"))
        return {**self.spec.stub("ChatFullInfo"), **chat.chat}

    def _get_chat_member(self, _spec: MethodSpec, params: JSON) -> JSON:
        chat = self._chat(params.get("chat_id"))
        user_id = params.get("user_id")
        user = self._bot_from if user_id == self._bot_from["id"] else chat.members.get(user_id)  # type: ignore[arg-type]
        if user is None:
            unknown = {"id": user_id, "is_bot": False, "first_name": ""}
            return {**self.spec.stub("ChatMemberLeft"), "user": unknown}
        return {**self.spec.stub("ChatMemberMember"), "user": user}

    # ----------------------------------------------------------------- callbacks

    def _answer_callback_query(self, _spec: MethodSpec, params: JSON) -> bool:
        query = self._callback_queries.get(params.get("callback_query_id", ""))
        if query is None or query["answered"]:
            raise bad_request(QUERY_TOO_OLD)
        if utf16_len(params.get("text") or "") > CALLBACK_ANSWER_LIMIT:
            raise bad_request("MESSAGE_TOO_LONG")
        query["answered"] = True
        self.callback_answers[params["callback_query_id"]] = {
            k: v for k, v in params.items() if k != "callback_query_id"
        }
        return True

    def new_callback_query(self, user: JSON, message: JSON, data: str) -> JSON:
        """A CallbackQuery the bot may answer exactly once."""
        query_id = str(4_000_000_000_000_000_000 + next(self._query_ids))
        chat_id = message["chat"]["id"]
        self._callback_queries[query_id] = {"answered": False, "at": self.now()}
        return {
            "id": query_id,
            "from": user,
            "message": message,
            "chat_instance": str((chat_id * 2654435761) % 10**18),
            "data": data,
        }

    # ----------------------------------------------------------------- bot settings

    @staticmethod
    def _scope_key(scope: Any) -> str:
        """``default``, ``all_private_chats``, ``chat:123``, ``chat_member:123:456``..."""
        if not isinstance(scope, dict):
            return "default"
        parts = [str(scope.get("type", "default"))]
        parts.extend(str(scope[key]) for key in ("chat_id", "user_id") if key in scope)
        return ":".join(parts)

    def _set_my_commands(self, _spec: MethodSpec, params: JSON) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("commands must be an array of at most 100 BotCommand")
        for command in commands:
            if not isinstance(command, dict) or not _COMMAND_RE.fullmatch(str(command.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        key = (self._scope_key(params.get("scope")), params.get("language_code", ""))
        if commands:
            self.commands[key] = commands
        else:
            self.commands.pop(key, None)
        return True

    def _get_my_commands(self, _spec: MethodSpec, params: JSON) -> list[JSON]:
        key = (self._scope_key(params.get("scope")), params.get("language_code", ""))
        return self.commands.get(key, [])

    def _delete_my_commands(self, _spec: MethodSpec, params: JSON) -> bool:
        self.commands.pop((self._scope_key(params.get("scope")), params.get("language_code", "")), None)
        return True

    @staticmethod
    def _set_text_setting(store: dict[str, str], params: JSON, key: str, limit: int) -> bool:
        value = params.get(key) or ""
        if utf16_len(value) > limit:
            raise bad_request(f"{key.replace('_', ' ')} is too long")
        language = params.get("language_code", "")
        if value:
            store[language] = value
        else:
            store.pop(language, None)
        return True

    def _set_my_description(self, _spec: MethodSpec, params: JSON) -> bool:
        return self._set_text_setting(self.descriptions, params, "description", 512)

    def _get_my_description(self, _spec: MethodSpec, params: JSON) -> JSON:
        return {"description": self.descriptions.get(params.get("language_code", ""), "")}

    def _set_my_short_description(self, _spec: MethodSpec, params: JSON) -> bool:
        return self._set_text_setting(self.short_descriptions, params, "short_description", 120)

    def _get_my_short_description(self, _spec: MethodSpec, params: JSON) -> JSON:
        return {"short_description": self.short_descriptions.get(params.get("language_code", ""), "")}

    def _set_my_name(self, _spec: MethodSpec, params: JSON) -> bool:
        return self._set_text_setting(self.names, params, "name", 64)

    def _set_chat_menu_button(self, _spec: MethodSpec, params: JSON) -> bool:
        chat_id = params.get("chat_id")
        if chat_id is not None:
            chat_id = self._chat(chat_id).id
        button = params.get("menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in ("default", "commands", "web_app"):
            raise bad_request("can't parse menu button JSON object")
        self.menu_buttons[chat_id] = button
        return True

    def _get_chat_menu_button(self, _spec: MethodSpec, params: JSON) -> JSON:
        chat_id = params.get("chat_id")
        if chat_id is not None:
            chat_id = self._chat(chat_id).id
            if chat_id in self.menu_buttons:
                return self.menu_buttons[chat_id]
        return self.menu_buttons.get(None, {"type": "default"})

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


# --------------------------------------------------------------------------- scripted users


class FakeUser:
    """A person writing to the bot. Every action returns once the bot has handled it."""

    def __init__(
        self,
        fake: FakeTelegram,
        user_id: int,
        first_name: str = "Test",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "fr",
        chat_id: int | None = None,
        chat_type: str = "private",
        *,
        chat_title: str | None = None,
        timeout: float = 5,
    ):
        self.fake = fake
        self.id = user_id
        self.user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name is not None:
            self.user["last_name"] = last_name
        if username is not None:
            self.user["username"] = username
        if language_code is not None:
            self.user["language_code"] = language_code
        self.chat_id = user_id if chat_id is None else chat_id
        self.timeout = timeout
        self.chat_state = fake.add_chat(self.chat_id, chat_type, title=chat_title, user=self.user)

    # ----------------------------------------------------------------- actions

    async def send(self, text: str, **extra: Any) -> JSON:
        """Send a text message (a leading ``/command`` gets its bot_command entity)."""
        fields: JSON = {"text": text}
        entities: list[JSON] = []
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(command)})
        entities.extend(extra.pop("entities", None) or [])
        if entities:
            fields["entities"] = entities
        fields.update(extra)
        return await self.send_message(**fields)

    async def send_message(self, **fields: Any) -> JSON:
        """Send any message (sticker=..., photo=[...], contact={...}), text or not."""
        message = self.fake.add_user_message(self.chat_id, self.user, fields)
        return await self._push({"message": message})

    async def edit(self, message_id: int, text: str) -> JSON:
        """Edit one of this user's messages: an ``edited_message`` update."""
        message = self.chat_state.messages.get(message_id)
        if message is None or message.get("from", {}).get("id") != self.id:
            raise AssertionError(f"user {self.id} has no message {message_id} to edit")
        edited = {**message, "text": text, "edit_date": self.fake.now()}
        edited.pop("entities", None)
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            edited["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_len(command)}]
        self.chat_state.messages[message_id] = edited
        return await self._push({"edited_message": edited})

    async def press(self, label_or_data: str, message_id: int | None = None) -> JSON:
        """Press an inline button by callback_data, exact text, or part of its text.

        Looks in ``message_id``, else in the latest bot message with an inline keyboard.
        """
        message = self._keyboard_message(message_id)
        buttons = [b for row in message["reply_markup"]["inline_keyboard"] for b in row]
        wanted = label_or_data.casefold()
        candidates = (
            [b for b in buttons if b.get("callback_data") == label_or_data]
            or [b for b in buttons if b["text"].casefold() == wanted]
            or [b for b in buttons if wanted in b["text"].casefold()]
        )
        listing = ", ".join(f"{b['text']!r} -> {b.get('callback_data') or b.get('url')!r}" for b in buttons)
        if not candidates:
            raise AssertionError(
                f"no button matching {label_or_data!r} in message {message['message_id']}; buttons: {listing}"
            )
        if len(candidates) > 1:
            raise AssertionError(
                f"{len(candidates)} buttons match {label_or_data!r} in message "
                f"{message['message_id']}: be more specific; buttons: {listing}"
            )
        button = candidates[0]
        if "callback_data" not in button:
            raise AssertionError(f"button {button['text']!r} sends no callback ({button})")
        return await self.press_data(button["callback_data"], message["message_id"])

    async def press_data(self, data: str, message_id: int) -> JSON:
        """Press with arbitrary (even forged) callback data on an existing message."""
        message = self.chat_state.messages.get(message_id)
        if message is None:
            raise AssertionError(f"no message {message_id} in chat {self.chat_id}")
        query = self.fake.new_callback_query(self.user, message, data)
        return await self._push({"callback_query": query})

    async def share_location(self, latitude: float, longitude: float) -> JSON:
        """Send a location (as the "share location" reply button does)."""
        return await self.send_message(location={"latitude": latitude, "longitude": longitude})

    def block(self) -> None:
        """Block the bot: sends now fail with 403 "Forbidden: bot was blocked by the user"."""
        self.chat_state.blocked = True

    def unblock(self) -> None:
        """Unblock the bot."""
        self.chat_state.blocked = False

    async def _push(self, payload: JSON) -> JSON:
        update = self.fake.push(payload)
        await self.fake.processed(update["update_id"], timeout=self.timeout)
        return update

    # ----------------------------------------------------------------- what the user sees

    def bot_messages(self) -> list[JSON]:
        """The bot's messages in this chat, current state, oldest first."""
        bot_id = self.fake.bot_user["id"]
        return [m for m in self.chat_state.messages.values() if m.get("from", {}).get("id") == bot_id]

    def last(self) -> JSON:
        """The bot's latest message (after edits)."""
        messages = self.bot_messages()
        if not messages:
            raise AssertionError(f"the bot has no message in chat {self.chat_id}")
        return messages[-1]

    def buttons(self, message: JSON | None = None) -> list[tuple[str, str]]:
        """``(text, callback_data)`` of the inline buttons of ``message`` (default: the
        latest bot message), rows flattened; callback_data is "" for URL-like buttons."""
        if message is None:
            messages = self.bot_messages()
            if not messages:
                return []
            message = messages[-1]
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]

    def texts(self) -> list[str]:
        """Text (or caption) of each current bot message, oldest first."""
        return [m.get("text") or m.get("caption") or "" for m in self.bot_messages()]

    def reply_keyboard(self) -> list[str]:
        """Texts of the reply keyboard the user currently sees ([] if none)."""
        markup = self.chat_state.reply_keyboard
        if not markup:
            return []
        return [b["text"] if isinstance(b, dict) else b for row in markup["keyboard"] for b in row]

    def _keyboard_message(self, message_id: int | None) -> JSON:
        if message_id is not None:
            message = self.chat_state.messages.get(message_id)
            if message is None or not (message.get("reply_markup") or {}).get("inline_keyboard"):
                raise AssertionError(f"message {message_id} has no inline keyboard")
            return message
        for message in reversed(self.bot_messages()):
            if (message.get("reply_markup") or {}).get("inline_keyboard"):
                return message
        raise AssertionError(
            f"no bot message with an inline keyboard in chat {self.chat_id}; bot messages: {self.texts()}"
        )
