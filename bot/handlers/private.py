"""The conversation with a person seeking help: private chats only, thin handlers.

Each handler hands the person's `Turn` (bot.middlewares) to one function of
bot.conversation.turn; `build_router` is the table of which update goes where, in order.
"""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandStart, ExceptionTypeFilter
from aiogram.types import CallbackQuery, ChatMemberUpdated, ErrorEvent, InaccessibleMessage, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot import texts
from bot.callbacks import EXIT, PICKER, Event, LanguagePick, MailboxAction, MailboxButton, MailboxPage, ScriptButton
from bot.conversation.turn import (
    Turn,
    cancel_answer,
    choose_language,
    delete_my_ticket,
    forget,
    press,
    quick_exit,
    say,
    shared_location,
    show_current,
    show_mailbox,
    show_picker,
    start,
    start_answer,
    typed,
    unusable,
)
from bot.filters import OnLoop
from bot.middlewares import AnswerPresses
from bot.state.memory import Memory

log = logging.getLogger(__name__)
PRIVATE = OnLoop(F.chat.type == ChatType.PRIVATE)


# -- messages -------------------------------------------------------------------------


async def on_text(message: Message, turn: Turn) -> None:
    await typed(turn, message.text or "")


async def on_start(message: Message, turn: Turn) -> None:
    await start(turn)


async def on_language(message: Message, turn: Turn) -> None:
    await show_picker(turn)


async def on_help(message: Message, turn: Turn) -> None:
    await say(turn, texts.HELP)
    await show_current(turn)


async def on_exit(message: Message, turn: Turn) -> None:
    await quick_exit(turn, message.message_id)


async def on_forget(message: Message, turn: Turn) -> None:
    await forget(turn)


async def on_unknown_command(message: Message, turn: Turn) -> None:
    await unusable(turn, texts.UNKNOWN_COMMAND)


async def on_location(message: Message, turn: Turn) -> None:
    location = message.location
    assert location is not None  # the filter
    await shared_location(turn, location.latitude, location.longitude)


async def on_contact(message: Message, turn: Turn) -> None:
    await unusable(turn, texts.CONTACT)


async def on_anything_else(message: Message, turn: Turn) -> None:
    await unusable(turn, texts.MEDIA)


async def on_edited(message: Message, turn: Turn) -> None:
    await unusable(turn, texts.EDITED)


# -- buttons --------------------------------------------------------------------------


async def on_script_button(
    callback: CallbackQuery, turn: Turn, callback_answer: CallbackAnswer, version: str, event: Event
) -> None:
    refused = await press(turn, version, event, _editable(callback))
    if refused:
        callback_answer.text = turn.tr.gettext(refused)


async def on_quick_exit(callback: CallbackQuery, turn: Turn) -> None:
    assert callback.message is not None  # an old screen still has the button: the exit reaches past it
    await quick_exit(turn, callback.message.message_id, pressed=callback.message.message_id)


async def on_check(callback: CallbackQuery, turn: Turn) -> None:
    await show_mailbox(turn, _editable(callback))


async def on_page(callback: CallbackQuery, turn: Turn, callback_data: MailboxPage) -> None:
    await show_mailbox(turn, _editable(callback), callback_data.page)


async def on_answer(callback: CallbackQuery, turn: Turn) -> None:
    await start_answer(turn, _editable(callback))


async def on_cancel(callback: CallbackQuery, turn: Turn) -> None:
    await cancel_answer(turn, _editable(callback))


async def on_delete(callback: CallbackQuery, turn: Turn) -> None:
    await delete_my_ticket(turn, _editable(callback))


async def on_picker(callback: CallbackQuery, turn: Turn) -> None:
    await show_picker(turn, _editable(callback))


async def on_pick(
    callback: CallbackQuery, turn: Turn, callback_answer: CallbackAnswer, callback_data: LanguagePick
) -> None:
    if not await choose_language(turn, callback_data.locale, _editable(callback)):
        callback_answer.text = turn.tr.gettext(texts.STALE_BUTTON)


async def on_unknown_button(callback: CallbackQuery, turn: Turn, callback_answer: CallbackAnswer) -> None:
    """Forged data, or a button of a kind this version no longer has."""
    callback_answer.text = turn.tr.gettext(texts.STALE_BUTTON)


# -- the rest -------------------------------------------------------------------------


async def on_blocked(update: ChatMemberUpdated, turn: Turn) -> None:
    """Blocked or unblocked: either way, nothing of the old conversation is kept."""
    turn.memory = Memory()


async def on_error(event: ErrorEvent, turn: Turn | None = None) -> bool:
    """Log what failed, never the update; apologise where we can."""
    log.error("update failed: %s", type(event.exception).__name__, exc_info=event.exception)
    if turn is not None and turn.leaving is None:  # after a quick exit, only the neutral line
        try:
            await say(turn, texts.SORRY)
        except Exception:  # noqa: BLE001  (Telegram itself may be what failed)
            log.warning("could not apologise either")
    return True


def _editable(callback: CallbackQuery) -> int | None:
    """The id of the message the button was on, if the bot can still edit it."""
    message = callback.message
    if message is None or isinstance(message, InaccessibleMessage):
        return None
    return message.message_id


def build_router() -> Router:
    """Handlers are tried in this order; the first whose filters pass takes the update."""
    router = Router(name="private")
    router.message.filter(PRIVATE)
    router.edited_message.filter(PRIVATE)
    router.callback_query.filter(OnLoop(F.message.chat.type == ChatType.PRIVATE))
    router.my_chat_member.filter(PRIVATE)
    router.callback_query.middleware(AnswerPresses())

    message = router.message.register
    message(on_text, OnLoop(F.text & ~F.text.startswith("/")))  # first: most messages are typed answers
    message(on_start, CommandStart(ignore_case=True))  # phones capitalise: "/Start", "/Exit"
    message(on_language, Command("language", ignore_case=True))
    message(on_help, Command("help", ignore_case=True))
    message(on_exit, Command("exit", ignore_case=True))
    message(on_forget, Command("forget", ignore_case=True))
    message(on_unknown_command, OnLoop(F.text.startswith("/")))
    message(on_location, OnLoop(F.location))
    message(on_contact, OnLoop(F.contact))
    message(on_anything_else)
    router.edited_message.register(on_edited)

    button = router.callback_query.register
    button(on_script_button, ScriptButton())  # first: nearly every press is an answer to the script
    button(on_quick_exit, OnLoop(F.data == EXIT))
    button(on_check, MailboxButton.filter(F.action == MailboxAction.CHECK))
    button(on_page, MailboxPage.filter())
    button(on_answer, MailboxButton.filter(F.action == MailboxAction.ANSWER))
    button(on_cancel, MailboxButton.filter(F.action == MailboxAction.CANCEL))
    button(on_delete, MailboxButton.filter(F.action == MailboxAction.DELETE))
    button(on_picker, OnLoop(F.data == PICKER))
    button(on_pick, LanguagePick.filter())
    button(on_unknown_button)

    router.my_chat_member.register(on_blocked)
    router.errors.register(on_error, ExceptionTypeFilter(Exception))
    return router
