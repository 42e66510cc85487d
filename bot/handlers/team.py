"""An association's team runs its intake from its own enrolled chat: /pause, /resume,
/tickets, /stats and /help.

Only the group's administrators may: Telegram says who (getChatMember), and an
administrator posting anonymously, as the group itself, counts. Anywhere else than an
enrolled group these commands say how to enroll, except /help, which says nothing there.
Every answer speaks the association's `notice_locale`. Storage answers for this
association only (storage.team); a handler wires.
"""

from __future__ import annotations

import datetime as dt
import logging
from html import escape

from aiogram import Bot, F, Router
from aiogram.enums import ChatMemberStatus, ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot import alerts, handoff, texts
from bot.callbacks import NoticeAction, NoticeButton
from bot.filters import OnLoop
from bot.runtime import Runtime
from dialogs.i18n import Translator
from storage.models import Association, hour
from storage.stats import association_stats
from storage.team import HeldTicket, held_tickets, set_intake
from storage.tickets import association_of_chat, reference

log = logging.getLogger(__name__)
GROUP_CHATS = OnLoop(F.chat.type.in_({ChatType.GROUP, ChatType.SUPERGROUP}))
ADMINS = (ChatMemberStatus.CREATOR, ChatMemberStatus.ADMINISTRATOR)
NEEDS = "needs"
"""The script's answer key for needs: the one answer a /tickets line shows."""
REASON_LENGTH = 200
STATUS = {
    "sent": texts.TEAM_STATUS_SENT,
    "delivered": texts.TEAM_STATUS_WAITING,
    "passed_on": texts.TEAM_STATUS_PASSED,
    "rerouted": texts.TEAM_STATUS_WAITING,
    "accepted": texts.TEAM_STATUS_ACCEPTED,
}
BUTTONS = (
    ("✅", NoticeAction.ACCEPT),
    ("✖", NoticeAction.DECLINE),
    ("↪", NoticeAction.PASS_ON),
    ("💬", NoticeAction.REPLY),
)


async def _is_admin(message: Message, bot: Bot) -> bool:
    if message.sender_chat is not None:  # posted as the group: only its administrators can
        return message.sender_chat.id == message.chat.id
    if message.from_user is None:
        return False
    try:
        member = await bot.get_chat_member(message.chat.id, message.from_user.id)
    except TelegramAPIError as exc:
        log.warning("could not check a group administrator (%s)", type(exc).__name__)
        return False
    return member.status in ADMINS


async def _team(
    message: Message, bot: Bot, runtime: Runtime, *, quiet_elsewhere: bool = False
) -> tuple[Association, Translator] | None:
    """The association of this chat and its language, once the sender may act; or None,
    after saying why not (unless `quiet_elsewhere` and no association enrolled this chat)."""
    async with runtime.db() as session:
        association = await association_of_chat(session, message.chat.id)
    if association is None and quiet_elsewhere:
        return None
    if association is None:
        await message.answer(escape(runtime.translator(None).gettext(texts.TEAM_NOT_ENROLLED)))
        return None
    tr = runtime.translator(association.notice_locale)
    if not await _is_admin(message, bot):
        await message.answer(escape(tr.gettext(texts.TEAM_ADMINS_ONLY)))
        return None
    return association, tr


async def on_help(message: Message, bot: Bot, runtime: Runtime) -> None:
    """In a group no association enrolled, silent: /help there is for the group's other bots."""
    team = await _team(message, bot, runtime, quiet_elsewhere=True)
    if team is not None:
        await message.answer(escape(team[1].gettext(texts.TEAM_HELP)))


async def on_pause(message: Message, command: CommandObject, bot: Bot, runtime: Runtime) -> None:
    """No new request from now on; the open ones stay. The people who run the bot are told."""
    team = await _team(message, bot, runtime)
    if team is None:
        return
    association, tr = team
    reason = " ".join((command.args or "").split())[:REASON_LENGTH] or "sans raison donnée"
    async with runtime.db.begin() as session:
        changed = await set_intake(session, association.id, open_=False)
        if changed:
            alerts.queue_alert(
                session, runtime.settings, alerts.TEAM_PAUSED.format(slug=association.slug, reason=reason)
            )
    if changed:
        runtime.wake_sender()
    text = texts.TEAM_PAUSED if changed else texts.TEAM_ALREADY_PAUSED
    await message.answer(escape(tr.gettext(text).format(name=association.name)))


async def on_resume(message: Message, bot: Bot, runtime: Runtime) -> None:
    team = await _team(message, bot, runtime)
    if team is None:
        return
    association, tr = team
    async with runtime.db.begin() as session:
        changed = await set_intake(session, association.id, open_=True)
        if changed:
            alerts.queue_alert(session, runtime.settings, alerts.TEAM_RESUMED.format(slug=association.slug))
    if changed:
        runtime.wake_sender()
    text = texts.TEAM_RESUMED if changed else texts.TEAM_ALREADY_OPEN
    await message.answer(escape(tr.gettext(text).format(name=association.name)))


async def on_tickets(message: Message, bot: Bot, runtime: Runtime) -> None:
    """The requests this association holds, oldest first, each with the notice's actions.
    Nothing free-text from the person, and never a code."""
    team = await _team(message, bot, runtime)
    if team is None:
        return
    association, tr = team
    async with runtime.db() as session:
        held, total = await held_tickets(session, association.id)
    _ = tr.gettext
    if not held:
        await message.answer(escape(_(texts.TEAM_NO_TICKETS)))
        return
    blocks = [f"<b>{escape(_(texts.TEAM_TICKETS_TITLE).format(count=total))}</b>"]
    blocks += [ticket_block(item, runtime, tr) for item in held]
    if total > len(held):
        blocks.append(escape(_(texts.TEAM_MORE).format(count=total - len(held))))
    blocks.append(f"<i>{escape(_(texts.TEAM_BUTTONS))}</i>")
    rows = [ticket_buttons(item) for item in held]
    await message.answer("\n\n".join(blocks), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


async def on_stats(message: Message, bot: Bot, runtime: Runtime) -> None:
    """This association's last three months, from the anonymous counters (storage.stats)."""
    team = await _team(message, bot, runtime)
    if team is None:
        return
    association, tr = team
    async with runtime.db() as session:
        numbers = await association_stats(session, association.slug)
    _ = tr.gettext
    hours = numbers.median_hours_to_accept
    median = _(texts.TEAM_STATS_NO_MEDIAN) if hours is None else age(round(hours), tr)
    text = _(texts.TEAM_STATS).format(
        name=association.name,
        start=numbers.first,
        end=numbers.last,
        received=tr.number(numbers.received),
        accepted=tr.number(numbers.accepted),
        declined=tr.number(numbers.declined),
        passed=tr.number(numbers.passed_on),
        median=median,
    )
    await message.answer(escape(text))


def age(hours: int, tr: Translator) -> str:
    """Hours up to two days, then days."""
    if hours < 48:
        return tr.gettext(texts.TEAM_AGE_HOURS).format(hours=hours)
    return tr.gettext(texts.TEAM_AGE_DAYS).format(days=hours // 24)


def ticket_block(item: HeldTicket, runtime: Runtime, tr: Translator) -> str:
    """Number, reference, age, status, language and flags, needs; whether the person wrote."""
    _ = tr.gettext
    ticket = item.ticket
    hours = max(0, int((hour() - ticket.created_at) / dt.timedelta(hours=1)))
    title = _(texts.TEAM_TICKET).format(ticket=ticket.id, reference=tr.isolate(reference(ticket)), age=age(hours, tr))
    lines = [f"<b>{escape(title)}</b> · {escape(_(STATUS[ticket.status]))}"]
    lines.append(escape(_(texts.NOTICE_LANGUAGE).format(language=handoff.language_name(ticket.locale, tr))))
    if ticket.danger:
        lines.append(escape(_(texts.NOTICE_DANGER)))
    if ticket.minor:
        lines.append(escape(_(texts.NOTICE_MINOR)))
    for answer in runtime.engine.summary(ticket.answers):
        if answer.store == NEEDS:
            lines += handoff.answer_lines(answer, tr)
    if item.person_waiting:
        lines.append(escape(_(texts.TEAM_PERSON_WAITING)))
    return "\n".join(lines)


def ticket_buttons(item: HeldTicket) -> list[InlineKeyboardButton]:
    """The notice's actions for this ticket, labelled by symbol and number (the legend says
    which is which); an accepted one keeps only the reply."""
    ticket = item.ticket.id
    actions = BUTTONS if item.ticket.status != "accepted" else BUTTONS[-1:]
    return [
        InlineKeyboardButton(text=f"{symbol} {ticket}", callback_data=NoticeButton(action=action, ticket=ticket).pack())
        for symbol, action in actions
    ]


def build_router() -> Router:
    router = Router(name="team")
    router.message.filter(GROUP_CHATS)
    command = router.message.register
    command(on_tickets, Command("tickets", ignore_case=True))
    command(on_pause, Command("pause", ignore_case=True))
    command(on_resume, Command("resume", ignore_case=True))
    command(on_stats, Command("stats", ignore_case=True))
    command(on_help, Command("help", ignore_case=True))
    return router
