"""The chats the fake knows: private chats, groups (kicked, deleted, migrated), their members."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.support.fake_telegram.errors import TelegramError, bad_request
from tests.support.fake_telegram.spec import JSON, ApiSpec, MethodSpec

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
    admins: dict[int, str] = field(default_factory=dict)  # user_id -> "creator" or "administrator"

    def new_message_id(self) -> int:
        """Bot and user messages share one counter per chat, as in Telegram."""
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id


class Chats:
    """Chats, and the checks on the chat a call names: part of ``FakeTelegram``, which sets up the state."""

    spec: ApiSpec
    chats: dict[int, ChatState]
    _chats_by_username: dict[str, ChatState]
    _bot_from: JSON

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

    def set_admin(self, chat_id: int, user_id: int, status: str = "administrator") -> None:
        """Make a member an administrator ("administrator") or the owner ("creator") of a group,
        as getChatMember then reports it."""
        if status not in ("creator", "administrator"):
            raise ValueError(status)
        self.chats[chat_id].admins[user_id] = status

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
        user = self._bot_from if user_id == self._bot_from["id"] else chat.members.get(user_id)  # type: ignore[arg-type]  # a missing id finds no member, as in Telegram
        if user is None:
            unknown = {"id": user_id, "is_bot": False, "first_name": ""}
            return {**self.spec.stub("ChatMemberLeft"), "user": unknown}
        status = chat.admins.get(user_id)  # type: ignore[arg-type]  # a missing id is no admin, as in Telegram
        if status == "administrator":
            # Bot API 10.3 added this right, which aiogram 3.31 requires; the vendored spec is 10.1.
            return {**self.spec.stub("ChatMemberAdministrator"), "can_send_welcome_messages": False, "user": user}
        kind = "ChatMemberOwner" if status == "creator" else "ChatMemberMember"
        return {**self.spec.stub(kind), "user": user}
