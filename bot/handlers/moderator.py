"""Moderators in Telegram: /review, /preview, /history. Only for MODERATOR_IDS.

Anyone else sending these commands gets exactly what any unknown command gets, from the
private router: no hint that they exist. Moderators are staff: their Telegram id is kept
with each decision.
"""

from __future__ import annotations

import logging
from html import escape

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer, CallbackAnswerMiddleware

from bot.callbacks import ModeratorAction, ModeratorButton
from bot.conversation.turn import Turn, show_current
from bot.filters import OnLoop
from bot.moderation import SCRIPT_ID, approved_version, load_files, pending_changes, po_text
from bot.runtime import Runtime
from dialogs.loader import ORIENTATION, ScriptInvalid
from dialogs.review import format_diff
from dialogs.telegram_text import cut
from dialogs.versions import CatalogueInvalid, Version, version_from_files
from storage import approvals

log = logging.getLogger(__name__)
SHOWN_CHANGES = 8
MAX_TEXT = 3800
"""UTF-16 units of a diff shown in one message, leaving room for its title."""


async def is_moderator(event: Message | CallbackQuery, runtime: Runtime) -> bool:
    """MODERATOR_IDS, from the settings."""
    return event.from_user is not None and event.from_user.id in runtime.settings.moderator_ids


async def on_review(message: Message, runtime: Runtime) -> None:
    try:
        files = version_from_files(ORIENTATION)
    except (ScriptInvalid, CatalogueInvalid) as exc:
        lines = [escape(str(p)) for p in exc.problems[:10]]
        await message.answer("Ces fichiers ne peuvent pas être approuvés :\n" + "\n".join(lines))
        return
    pending = pending_changes(await approved_version(runtime.db), files)
    if not pending:
        await message.answer("Rien à revoir : tout ce qui est dans les fichiers est approuvé.")
        return
    for item in pending:
        changes = format_diff(list(item.changes[:SHOWN_CHANGES])) if item.changes else "nouveau"
        more = f"\n… et {len(item.changes) - SHOWN_CHANGES} autre(s)" if len(item.changes) > SHOWN_CHANGES else ""
        title = "Script" if item.subject == approvals.SCRIPT else f"Langue {item.subject}"
        text = (
            f"<b>{escape(title)}</b> ({item.digest[:8]})\n<pre>{escape(cut(changes, MAX_TEXT)[0])}</pre>{escape(more)}"
        )
        buttons = [
            [
                _button("✅ Approuver", ModeratorAction.APPROVE, item.subject, item.digest),
                _button("✖ Rejeter", ModeratorAction.REJECT, item.subject, item.digest),
            ]
        ]
        await message.answer(text, reply_markup=InlineKeyboardMarkup(inline_keyboard=buttons))


def _button(text: str, action: ModeratorAction, subject: str, digest: str) -> InlineKeyboardButton:
    data = ModeratorButton(action=action, subject=subject, digest=digest[:8])
    return InlineKeyboardButton(text=text, callback_data=data.pack())


async def on_decision(
    callback: CallbackQuery, callback_data: ModeratorButton, runtime: Runtime, callback_answer: CallbackAnswer
) -> None:
    assert callback.from_user is not None  # the router's filter
    subject, short = callback_data.subject, callback_data.digest
    try:
        files = version_from_files(ORIENTATION)
    except (ScriptInvalid, CatalogueInvalid):
        callback_answer.text = "Les fichiers ont des erreurs : rien n'est approuvé."
        return
    digest, source = _subject_of(files, subject)
    if digest is None or not digest.startswith(short):
        callback_answer.text = "Ce bouton est périmé : les fichiers ont changé depuis. Relancez /review."
        return
    moderator = f"telegram:{callback.from_user.id}"
    async with runtime.db.begin() as session:
        if callback_data.action is ModeratorAction.APPROVE:
            done = await approvals.approve(session, SCRIPT_ID, subject, digest, source, moderator)
            callback_answer.text = "Approuvé." if done else "Déjà approuvé : rien à faire."
        else:
            await approvals.reject(session, SCRIPT_ID, subject, digest, moderator)
            callback_answer.text = "Rejeté : les personnes gardent la version approuvée."
    log.info("moderator decision: %s %s %s", callback_data.action.name.lower(), subject, short)
    await runtime.reload_approved()
    if callback.message is not None and hasattr(callback.message, "edit_reply_markup"):
        await callback.message.edit_reply_markup(reply_markup=None)


async def on_history(message: Message, runtime: Runtime) -> None:
    async with runtime.db() as session:
        events = (await approvals.history(session, SCRIPT_ID))[-15:]
    if not events:
        await message.answer("Aucune décision enregistrée.")
        return
    lines, buttons = [], []
    for event in events:
        lines.append(
            f"{event.created_at:%Y-%m-%d %H:%M} {event.action} {event.subject} {event.digest[:8]} — {event.moderator}"
        )
        if event.action == "approve":
            text = f"↩ {event.subject} {event.digest[:8]}"
            buttons.append([_button(text, ModeratorAction.ROLLBACK, event.subject, event.digest)])
    await message.answer(
        "<pre>" + escape("\n".join(lines)) + "</pre>\nRevenir à une version approuvée :",
        reply_markup=InlineKeyboardMarkup(inline_keyboard=buttons[-8:]),
    )


async def on_rollback(
    callback: CallbackQuery, callback_data: ModeratorButton, runtime: Runtime, callback_answer: CallbackAnswer
) -> None:
    assert callback.from_user is not None  # the router's filter
    subject = callback_data.subject
    async with runtime.db.begin() as session:
        digests = list(await approvals.approved_matching(session, SCRIPT_ID, subject, callback_data.digest))
        done = len(digests) == 1 and await approvals.rollback(
            session, SCRIPT_ID, subject, digests[0], f"telegram:{callback.from_user.id}"
        )
    callback_answer.text = "Version rétablie." if done else "Version introuvable."
    await runtime.reload_approved()


async def on_preview(message: Message, command: CommandObject, turn: Turn) -> None:
    """Walk the pending files exactly as a person would, marked PREVIEW; no ticket, no notice."""
    default = turn.runtime.settings.default_locale
    args = (command.args or "").split()
    locale = args[1] if len(args) > 1 else (args[0] if args and args[0] != SCRIPT_ID else default)
    try:
        turn.runtime.set_preview(load_files())
    except (ScriptInvalid, CatalogueInvalid) as exc:
        await message.answer(escape(f"Aperçu impossible : {exc.problems[0]}"))
        return
    turn.memory.preview = True
    turn.memory.state = None
    turn.memory.locale = locale if locale in turn.runtime.preview.catalogs.locales else default
    await show_current(turn)


def build_router() -> Router:
    """For MODERATOR_IDS only, in private chats; to anyone else these commands do not exist."""
    router = Router(name="moderator")
    router.message.filter(OnLoop(F.chat.type == ChatType.PRIVATE), is_moderator)
    router.callback_query.filter(is_moderator)
    router.callback_query.middleware(CallbackAnswerMiddleware())

    router.message.register(on_review, Command("review"))
    router.message.register(on_history, Command("history"))
    router.message.register(on_preview, Command("preview"))
    decision = F.action.in_({ModeratorAction.APPROVE, ModeratorAction.REJECT})
    router.callback_query.register(on_decision, ModeratorButton.filter(decision))
    router.callback_query.register(on_rollback, ModeratorButton.filter(F.action == ModeratorAction.ROLLBACK))
    return router


def _subject_of(files: Version, subject: str) -> tuple[str | None, str]:
    """The digest and source the files hold for a subject, as they are now."""
    if subject == approvals.SCRIPT:
        return files.script.digest, files.source
    catalogue = files.catalogues.get(subject)
    return (catalogue.digest, po_text(subject)) if catalogue else (None, "")
