"""The association's side: enrolling a team's chat, and acting on notices there.

Only the enrolled chat of a ticket's current association can act on it; anyone else is
refused and nothing changes. Staff are not protected people: their chat ids are stored.
A staff reply belongs to the ticket of the bot message it answers (storage.routing),
whatever that message says: a person's relayed words can never redirect it.
"""

from __future__ import annotations

import re
from html import escape

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Chat, ForceReply, InaccessibleMessage, Message
from aiogram.utils.callback_answer import CallbackAnswer, CallbackAnswerMiddleware

from bot import handoff, texts
from bot.conversation.mailbox import MAX_REPLY
from bot.conversation.turn import Runtime
from bot.filters import OnLoop
from dialogs.telegram_text import fits, utf16_len
from storage.directory.enrollment import enroll
from storage.models import Ticket
from storage.routing import remember
from storage.tickets import (
    OPEN_STATUSES,
    Refusal,
    chat_locale,
    decide,
    reply_to_message,
    ticket_for_chat,
)

NOTICE_DATA = re.compile(r"^t:([adpr]):(\d{1,12})$")
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


def build_router() -> Router:
    router = Router(name="association")
    router.callback_query.middleware(CallbackAnswerMiddleware())

    @router.message(Command("enroll"))
    async def on_enroll(message: Message, command: CommandObject, runtime: Runtime) -> None:
        refusal = enroll_refusal(message.chat)
        if refusal is not None:  # the code is not used up
            await message.answer(escape(runtime.catalogs.get(runtime.settings.default_locale).gettext(refusal)))
            return
        async with runtime.db.begin() as session:
            association = await enroll(session, (command.args or "").strip(), message.chat.id)
        tr = runtime.catalogs.get(association.notice_locale if association else runtime.settings.default_locale)
        text = (
            tr.gettext(texts.ENROLLED).format(name=association.name)
            if association
            else tr.gettext(texts.ENROLL_REFUSED)
        )
        await message.answer(escape(text))

    @router.callback_query(OnLoop(F.data.regexp(NOTICE_DATA)))
    async def on_notice_button(
        callback: CallbackQuery, runtime: Runtime, bot: Bot, callback_answer: CallbackAnswer
    ) -> None:
        message = callback.message
        match = NOTICE_DATA.match(callback.data or "")
        if message is None or match is None:
            return
        action, ticket_id, chat_id = match.group(1), int(match.group(2)), message.chat.id
        if action == "r":
            await _prompt_reply(runtime, bot, ticket_id, chat_id, callback_answer)
            return
        async with runtime.db.begin() as session:
            if action == "p":
                ticket = await ticket_for_chat(session, ticket_id, chat_id)
                if not isinstance(ticket, Refusal) and ticket.status not in OPEN_STATUSES:
                    ticket = Refusal("already_done")
                moved = (
                    None
                    if isinstance(ticket, Refusal)
                    else await handoff.pass_on(session, ticket, runtime.engine, runtime.catalogs, timed_out=False)
                )
                locale = (
                    ticket.association.notice_locale if not isinstance(ticket, Refusal) and ticket.association else "fr"
                )
            else:
                ticket = await decide(session, ticket_id, chat_id, "accept" if action == "a" else "decline")
                moved = None
                locale = (
                    ticket.association.notice_locale if not isinstance(ticket, Refusal) and ticket.association else "fr"
                )
        tr = runtime.catalogs.get(locale)
        if isinstance(ticket, Refusal):
            callback_answer.text = tr.gettext(REFUSALS[ticket.reason])
            return
        if action == "p" and moved is None:
            callback_answer.text = tr.gettext(texts.NOTICE_NO_OTHER)
            return
        runtime.wake_sender()
        outcome = {"a": texts.NOTICE_ACCEPTED, "d": texts.NOTICE_DECLINED, "p": texts.NOTICE_PASSED}[action]
        callback_answer.text = tr.gettext(outcome)
        if not isinstance(message, InaccessibleMessage):
            keep_reply = action == "a"
            markup = message.reply_markup if keep_reply else None
            if keep_reply and markup is not None:
                markup = type(markup)(
                    inline_keyboard=[
                        [
                            b
                            for row in markup.inline_keyboard
                            for b in row
                            if b.callback_data and b.callback_data.startswith("t:r:")
                        ]
                    ]
                )
            await message.edit_text(f"{message.html_text}\n\n<b>{escape(tr.gettext(outcome))}</b>", reply_markup=markup)

    @router.message(GROUP_CHATS, OnLoop(F.text & F.reply_to_message.from_user.is_bot))
    async def on_reply(message: Message, runtime: Runtime, bot: Bot) -> None:
        replied = message.reply_to_message
        if replied is None or replied.from_user is None or replied.from_user.id != bot.id or not message.text:
            return
        async with runtime.db.begin() as session:
            locale = await chat_locale(session, message.chat.id) or runtime.settings.default_locale
            tr = runtime.catalogs.get(locale)
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

    return router


async def _prompt_reply(
    runtime: Runtime, bot: Bot, ticket_id: int, chat_id: int, callback_answer: CallbackAnswer
) -> None:
    """Ask for the reply as an answer to a prompt: bots in groups see replies to their own messages."""
    async with runtime.db() as session:
        ticket = await ticket_for_chat(session, ticket_id, chat_id)
    if isinstance(ticket, Refusal):
        callback_answer.text = runtime.catalogs.get("fr").gettext(REFUSALS[ticket.reason])
        return
    tr = runtime.catalogs.get(ticket.association.notice_locale if ticket.association else "fr")
    prompt = tr.gettext(texts.REPLY_PROMPT).format(ticket=ticket_id)
    sent = await bot.send_message(chat_id, escape(prompt), reply_markup=ForceReply(selective=False))
    async with runtime.db.begin() as session:
        remember(session, chat_id, sent.message_id, ticket_id, tr.locale)
