"""The bot's own settings: commands per scope and language, descriptions, name, menu button."""

from __future__ import annotations

import re
from typing import Any

from tests.support.fake_telegram.errors import bad_request
from tests.support.fake_telegram.parse_mode import utf16_len
from tests.support.fake_telegram.spec import JSON, MethodSpec

_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")


class BotSettings:
    """set/get/delete of the bot's settings: part of ``FakeTelegram``, which sets up the state."""

    commands: dict[tuple[str, str], list[JSON]]
    descriptions: dict[str, str]
    short_descriptions: dict[str, str]
    names: dict[str, str]
    menu_buttons: dict[int | None, JSON]

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
