"""The bot's messages: sent, edited, deleted, forwarded, copied, each checked as Telegram checks it."""

from __future__ import annotations

import itertools
from typing import Any

from tests.support.fake_telegram.chats import ChatState
from tests.support.fake_telegram.errors import NOT_MODIFIED, bad_request
from tests.support.fake_telegram.parse_mode import parse_html, strip_text, utf16_len
from tests.support.fake_telegram.spec import JSON, ApiSpec, MethodSpec

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_MAX_BYTES = 64
DELETE_WINDOW_SECONDS = 48 * 3600
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


class Messages:
    """Message methods and their checks: part of ``FakeTelegram``, which sets up the state."""

    spec: ApiSpec
    _bot_from: JSON
    _file_ids: itertools.count[int]

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
        text, entities = strip_text(text, entities)
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
        message = chat.messages.get(params.get("message_id"))  # type: ignore[arg-type]  # a missing id finds nothing, as in Telegram
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
        message = chat.messages.get(params.get("message_id"))  # type: ignore[arg-type]  # a missing id finds nothing, as in Telegram
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
        source = source_chat.messages.get(params.get("message_id"))  # type: ignore[arg-type]  # a missing id finds nothing, as in Telegram
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
