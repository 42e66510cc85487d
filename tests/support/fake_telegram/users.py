"""Scripted users: a person writing to the bot, pressing its buttons, and reading what it shows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.support.fake_telegram.parse_mode import utf16_len
from tests.support.fake_telegram.spec import JSON

if TYPE_CHECKING:
    from tests.support.fake_telegram.server import FakeTelegram


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
