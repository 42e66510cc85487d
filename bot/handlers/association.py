"""The association's side: enrolling a team's chat, and acting on notices there.

Only the enrolled chat of a ticket's current association can act on it; anyone else is
refused and nothing changes (storage.tickets decides). Staff are not protected people:
their chat ids are stored. A staff reply belongs to the ticket of the bot message it
answers (storage.routing), whatever that message says: a person's relayed words can never
redirect it. Every answer in a chat speaks the language of the association enrolled there,
or DEFAULT_LOCALE.
"""

from __future__ import annotations

from html import escape

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject
from aiogram.types import (
    CallbackQuery,
    Chat,
    ForceReply,
    InaccessibleMessage,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.callback_answer import CallbackAnswer, CallbackAnswerMiddleware
from sqlalchemy.ext.asyncio import AsyncSession

from bot import handoff, texts
from bot.callbacks import NoticeAction, NoticeButton
from bot.conversation.mailbox import MAX_REPLY
from bot.filters import OnLoop
from bot.runtime import Runtime
from dialogs.i18n import Translator
from dialogs.telegram_text import fits, utf16_len
from storage.directory.enrollment import enroll
from storage.models import Ticket
from storage.routing import remember
from storage.tickets import (
    Action,
    Refusal,
    association_of_chat,
    decide,
    open_ticket_for_chat,
    reply_to_message,
    ticket_for_chat,
)

REFUSALS = {"not_yours": texts.NOTICE_NOT_YOURS, "already_done": texts.NOTICE_ALREADY, "gone": texts.REQUEST_GONE}
GROUP_CHATS = OnLoop(F.chat.type.in_({ChatType.GROUP, ChatType.SUPERGROUP}))


def enroll_refusal(chat: Chat) -> str | None:
    """Notices go to a team's private group only: not a one-to-one chat or a channel, and
    not a public group (one with a username), whose history anyone may read."""
    if chat.type not in (ChatType.GROUP, ChatType.SUPERGROUP):
        return texts.ENROLL_GROUPS_ONLY
    if chat.username:
        return texts.ENROLL_PUBLIC
    return None


async def chat_translator(session: AsyncSession, runtime: Runtime, chat_id: int) -> Translator:
    """The language of the association enrolled in this chat, or the default one."""
    association = await association_of_chat(session, chat_id)
    return runtime.translator(association.notice_locale if association else None)


# -- enrolling ------------------------------------------------------------------------


async def on_enroll(message: Message, command: CommandObject, runtime: Runtime) -> None:
    refusal = enroll_refusal(message.chat)
    if refusal is not None:  # the code is not used up
        await message.answer(escape(runtime.translator(None).gettext(refusal)))
        return
    async with runtime.db.begin() as session:
        association = await enroll(session, (command.args or "").strip(), message.chat.id)
    tr = runtime.translator(association.notice_locale if association else None)
    text = tr.gettext(texts.ENROLLED).format(name=association.name) if association else tr.gettext(texts.ENROLL_REFUSED)
    await message.answer(escape(text))


# -- the buttons under a notice -------------------------------------------------------


async def on_accept(
    callback: CallbackQuery, callback_data: NoticeButton, runtime: Runtime, callback_answer: CallbackAnswer
) -> None:
    """Accepted: the notice keeps only its reply button."""
    reply = NoticeButton(action=NoticeAction.REPLY, ticket=callback_data.ticket).pack()
    await _decide(callback, callback_data, runtime, callback_answer, "accept", texts.NOTICE_ACCEPTED, keep=reply)


async def on_decline(
    callback: CallbackQuery, callback_data: NoticeButton, runtime: Runtime, callback_answer: CallbackAnswer
) -> None:
    await _decide(callback, callback_data, runtime, callback_answer, "decline", texts.NOTICE_DECLINED)


async def on_pass_on(
    callback: CallbackQuery, callback_data: NoticeButton, runtime: Runtime, callback_answer: CallbackAnswer
) -> None:
    """Passed on to the next nearest association; kept here when there is none."""
    chat_id = _chat_id(callback)
    async with runtime.db.begin() as session:
        tr = await chat_translator(session, runtime, chat_id)
        ticket = await open_ticket_for_chat(session, callback_data.ticket, chat_id)
        stays = not isinstance(ticket, Refusal) and not await handoff.pass_on(
            session, ticket, runtime.engine, runtime.catalogs, timed_out=False
        )
    if stays:
        callback_answer.text = tr.gettext(texts.NOTICE_NO_OTHER)
        return
    await _done(callback, runtime, callback_answer, tr, ticket, texts.NOTICE_PASSED)


async def on_reply_button(
    callback: CallbackQuery, callback_data: NoticeButton, runtime: Runtime, bot: Bot, callback_answer: CallbackAnswer
) -> None:
    """Ask for the reply as an answer to a prompt: bots in groups see replies to their own messages."""
    chat_id = _chat_id(callback)
    async with runtime.db() as session:
        ticket = await ticket_for_chat(session, callback_data.ticket, chat_id)
        tr = await chat_translator(session, runtime, chat_id)
    if isinstance(ticket, Refusal):
        callback_answer.text = tr.gettext(REFUSALS[ticket.reason])
        return
    prompt = tr.gettext(texts.REPLY_PROMPT).format(ticket=ticket.id)
    sent = await bot.send_message(chat_id, escape(prompt), reply_markup=ForceReply(selective=False))
    async with runtime.db.begin() as session:
        remember(session, chat_id, sent.message_id, ticket.id, tr.locale)


async def _decide(
    callback: CallbackQuery,
    callback_data: NoticeButton,
    runtime: Runtime,
    callback_answer: CallbackAnswer,
    action: Action,
    outcome: str,
    *,
    keep: str | None = None,
) -> None:
    chat_id = _chat_id(callback)
    async with runtime.db.begin() as session:
        ticket = await decide(session, callback_data.ticket, chat_id, action)
        tr = await chat_translator(session, runtime, chat_id)
    await _done(callback, runtime, callback_answer, tr, ticket, outcome, keep=keep)


def _chat_id(callback: CallbackQuery) -> int:
    assert callback.message is not None  # the router's filter
    return callback.message.chat.id


async def _done(
    callback: CallbackQuery,
    runtime: Runtime,
    callback_answer: CallbackAnswer,
    tr: Translator,
    ticket: Ticket | Refusal,
    outcome: str,
    *,
    keep: str | None = None,
) -> None:
    """Say what was done, below the notice, whose buttons go (all but the one `keep` names);
    or why nothing was. On a /tickets list, only this ticket's buttons go: the others stay."""
    if isinstance(ticket, Refusal):
        callback_answer.text = tr.gettext(REFUSALS[ticket.reason])
        return
    runtime.wake_sender()
    callback_answer.text = tr.gettext(outcome)
    message = callback.message
    if message is None or isinstance(message, InaccessibleMessage):
        return
    keyboard = message.reply_markup.inline_keyboard if message.reply_markup else []
    rows = [
        kept for row in keyboard if (kept := [b for b in row if b.callback_data == keep or not _acts_on(b, ticket.id)])
    ]
    markup = InlineKeyboardMarkup(inline_keyboard=rows) if rows else None
    if all(_acts_on(b, ticket.id) for row in keyboard for b in row):  # the ticket's own notice
        await message.edit_text(f"{message.html_text}\n\n<b>{escape(tr.gettext(outcome))}</b>", reply_markup=markup)
    else:
        await message.edit_reply_markup(reply_markup=markup)


def _acts_on(button: InlineKeyboardButton, ticket_id: int) -> bool:
    try:
        return NoticeButton.unpack(button.callback_data or "").ticket == ticket_id
    except (TypeError, ValueError):
        return False


async def on_unknown_button(callback: CallbackQuery, runtime: Runtime, callback_answer: CallbackAnswer) -> None:
    """Forged data, or a kind of button that has no business in a group: answered, not left spinning."""
    async with runtime.db() as session:
        tr = await chat_translator(session, runtime, _chat_id(callback))
    callback_answer.text = tr.gettext(texts.STALE_BUTTON)


# -- staff replies --------------------------------------------------------------------


async def on_reply(message: Message, runtime: Runtime, bot: Bot) -> None:
    replied = message.reply_to_message
    if replied is None or replied.from_user is None or replied.from_user.id != bot.id or not message.text:
        return
    async with runtime.db.begin() as session:
        tr = await chat_translator(session, runtime, message.chat.id)
        ticket: Ticket | Refusal | None = None
        if not fits(message.text, MAX_REPLY):  # refused whole, never cut: the person must read all of it
            answer = tr.gettext(texts.REPLY_TOO_LONG).format(length=utf16_len(message.text), limit=MAX_REPLY)
        else:
            ticket = await reply_to_message(session, message.chat.id, replied.message_id, message.text)
            answer = tr.gettext(REFUSALS[ticket.reason] if isinstance(ticket, Refusal) else texts.REPLY_SAVED)
    sent = await message.reply(escape(answer))
    if isinstance(ticket, Ticket):  # a reply to the confirmation goes on the same thread
        async with runtime.db.begin() as session:
            remember(session, message.chat.id, sent.message_id, ticket.id, tr.locale)


def build_router() -> Router:
    router = Router(name="association")
    router.callback_query.filter(OnLoop(F.message))
    router.callback_query.middleware(CallbackAnswerMiddleware())

    router.message.register(on_enroll, Command("enroll"))
    router.message.register(on_reply, GROUP_CHATS, OnLoop(F.text & F.reply_to_message.from_user.is_bot))

    button = router.callback_query.register
    button(on_accept, NoticeButton.filter(F.action == NoticeAction.ACCEPT))
    button(on_decline, NoticeButton.filter(F.action == NoticeAction.DECLINE))
    button(on_pass_on, NoticeButton.filter(F.action == NoticeAction.PASS_ON))
    button(on_reply_button, NoticeButton.filter(F.action == NoticeAction.REPLY))
    button(on_unknown_button, OnLoop(F.message.chat.type != ChatType.PRIVATE))  # a person's are bot.handlers.private's
    return router
