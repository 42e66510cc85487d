"""The conversation with a person seeking help: private chats only, thin handlers."""

from __future__ import annotations

import logging
from typing import Any

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandStart, ExceptionTypeFilter, Filter
from aiogram.types import CallbackQuery, ChatMemberUpdated, ErrorEvent, InaccessibleMessage, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot import texts
from bot.conversation import mailbox
from bot.conversation import turn as conversation
from bot.conversation.turn import Turn
from bot.filters import OnLoop
from bot.middlewares import AnswerPresses
from bot.render import EXIT_DATA, PICK_PREFIX, PICKER_DATA
from bot.state.memory import Session
from dialogs.events import Event, try_decode

log = logging.getLogger(__name__)
PRIVATE = OnLoop(F.chat.type == ChatType.PRIVATE)


class ScriptButton(Filter):
    """A button of the script: passes its `version` and `event` to the handler."""

    async def __call__(self, callback: CallbackQuery) -> bool | dict[str, Any]:
        decoded = try_decode(callback.data or "")
        if decoded is None:
            return False
        version, event = decoded
        return {"version": version, "event": event}


def build_router() -> Router:
    router = Router(name="private")
    router.message.filter(PRIVATE)
    router.edited_message.filter(PRIVATE)
    router.callback_query.filter(OnLoop(F.message.chat.type == ChatType.PRIVATE))
    router.my_chat_member.filter(PRIVATE)
    router.callback_query.middleware(AnswerPresses())

    # First: most messages are answers typed at a free-input step, matched in one check.
    @router.message(OnLoop(F.text & ~F.text.startswith("/")))
    async def on_text(message: Message, turn: Turn) -> None:
        await conversation.typed(turn, message.text or "")

    @router.message(CommandStart(ignore_case=True))  # phones capitalise: "/Start", "/Exit"
    async def on_start(message: Message, turn: Turn) -> None:
        await conversation.start(turn)

    @router.message(Command("language", ignore_case=True))
    async def on_language(message: Message, turn: Turn) -> None:
        await conversation.show_picker(turn)

    @router.message(Command("help", ignore_case=True))
    async def on_help(message: Message, turn: Turn) -> None:
        await conversation.say(turn, texts.HELP)
        await conversation.show_current(turn)

    @router.message(Command("exit", ignore_case=True))
    async def on_exit(message: Message, turn: Turn) -> None:
        await conversation.quick_exit(turn, message.message_id)

    @router.message(Command("forget", ignore_case=True))
    async def on_forget(message: Message, turn: Turn) -> None:
        await conversation.forget(turn)

    @router.message(OnLoop(F.text.startswith("/")))
    async def on_unknown_command(message: Message, turn: Turn) -> None:
        await conversation.unusable(turn, texts.UNKNOWN_COMMAND)

    @router.message(OnLoop(F.location))
    async def on_location(message: Message, turn: Turn) -> None:
        location = message.location
        assert location is not None
        await conversation.shared_location(turn, location.latitude, location.longitude)

    @router.message(OnLoop(F.contact))
    async def on_contact(message: Message, turn: Turn) -> None:
        await conversation.unusable(turn, texts.CONTACT)

    @router.message()
    async def on_anything_else(message: Message, turn: Turn) -> None:
        await conversation.unusable(turn, texts.MEDIA)

    @router.edited_message()
    async def on_edited(message: Message, turn: Turn) -> None:
        await conversation.unusable(turn, texts.EDITED)

    # First: nearly every press is an answer to the script, so it is matched in one check.
    @router.callback_query(ScriptButton())
    async def on_button(
        callback: CallbackQuery, turn: Turn, callback_answer: CallbackAnswer, version: str, event: Event
    ) -> None:
        refused = await conversation.press(turn, version, event, _editable(callback))
        if refused:
            callback_answer.text = turn.tr.gettext(refused)

    @router.callback_query(OnLoop(F.data == EXIT_DATA))
    async def on_quick_exit(callback: CallbackQuery, turn: Turn) -> None:
        assert callback.message is not None  # an old screen still has the button: the exit reaches past it
        await conversation.quick_exit(turn, callback.message.message_id, pressed=callback.message.message_id)

    @router.callback_query(OnLoop(F.data == conversation.MAILBOX_CHECK))
    async def on_check(callback: CallbackQuery, turn: Turn) -> None:
        await conversation.show_mailbox(turn, _editable(callback))

    @router.callback_query(OnLoop(F.data.regexp(mailbox.PAGE_DATA)))
    async def on_page(callback: CallbackQuery, turn: Turn) -> None:
        await conversation.show_mailbox(turn, _editable(callback), mailbox.page_of(callback.data or ""))

    @router.callback_query(OnLoop(F.data == conversation.MAILBOX_ANSWER))
    async def on_answer(callback: CallbackQuery, turn: Turn) -> None:
        await conversation.start_answer(turn, _editable(callback))

    @router.callback_query(OnLoop(F.data == conversation.MAILBOX_CANCEL))
    async def on_cancel(callback: CallbackQuery, turn: Turn) -> None:
        turn.session.composing = None
        await conversation.show_mailbox(turn, _editable(callback))

    @router.callback_query(OnLoop(F.data == conversation.MAILBOX_DELETE))
    async def on_delete(callback: CallbackQuery, turn: Turn) -> None:
        await conversation.delete_my_ticket(turn, _editable(callback))

    @router.callback_query(OnLoop(F.data == PICKER_DATA))
    async def on_picker(callback: CallbackQuery, turn: Turn) -> None:
        await conversation.show_picker(turn, _editable(callback))

    @router.callback_query(OnLoop(F.data.startswith(PICK_PREFIX)))
    async def on_pick(callback: CallbackQuery, turn: Turn, callback_answer: CallbackAnswer) -> None:
        locale = (callback.data or "").removeprefix(PICK_PREFIX)
        if not await conversation.choose_language(turn, locale, _editable(callback)):
            callback_answer.text = turn.tr.gettext(texts.STALE_BUTTON)

    @router.callback_query()
    async def on_unknown_button(callback: CallbackQuery, turn: Turn, callback_answer: CallbackAnswer) -> None:
        """Forged data, or a button of a kind this version no longer has."""
        callback_answer.text = turn.tr.gettext(texts.STALE_BUTTON)

    @router.my_chat_member()
    async def on_blocked(update: ChatMemberUpdated, turn: Turn) -> None:
        """Blocked or unblocked: either way, nothing of the old conversation is kept."""
        turn.session = Session()

    @router.errors(ExceptionTypeFilter(Exception))
    async def on_error(event: ErrorEvent, turn: Turn | None = None) -> bool:
        """Log what failed, never the update; apologise where we can."""
        log.error("update failed: %s", type(event.exception).__name__, exc_info=event.exception)
        if turn is not None and turn.leaving is None:  # after a quick exit, only the neutral line
            try:
                await conversation.say(turn, texts.SORRY)
            except Exception:  # noqa: BLE001  (Telegram itself may be what failed)
                log.warning("could not apologise either")
        return True

    return router


def _editable(callback: CallbackQuery) -> int | None:
    """The id of the message the button was on, if the bot can still edit it."""
    message = callback.message
    if message is None or isinstance(message, InaccessibleMessage):
        return None
    return message.message_id
