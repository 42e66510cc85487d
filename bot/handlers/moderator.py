"""Moderators in Telegram: /review, /preview, /history. Only for MODERATOR_IDS.

Anyone else sending these commands gets exactly what any unknown command gets, from the
private router: no hint that they exist. Moderators are staff: their Telegram id is kept
with each decision.
"""

from __future__ import annotations

import logging
import re
from html import escape

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer, CallbackAnswerMiddleware

from bot.conversation import turn as conversation
from bot.conversation.turn import Runtime, Turn
from bot.filters import OnLoop
from bot.moderation import SCRIPT_ID, approved_version, load_files, pending_changes, po_text
from dialogs.loader import ORIENTATION, ScriptInvalid
from dialogs.review import format_diff
from dialogs.telegram_text import cut
from dialogs.versions import CatalogueInvalid, Version, version_from_files
from storage import approvals

log = logging.getLogger(__name__)
DECISION = re.compile(r"^mod:([ar]):([a-z_A-Z]{2,8}|script):([0-9a-f]{8})$")
ROLLBACK = re.compile(r"^mod:b:([a-z_A-Z]{2,8}|script):([0-9a-f]{8})$")
SHOWN_CHANGES = 8
MAX_TEXT = 3800
"""UTF-16 units of a diff shown in one message, leaving room for its title."""


def build_router(moderator_ids: tuple[int, ...]) -> Router:
    router = Router(name="moderator")
    is_moderator = F.from_user.id.in_(set(moderator_ids))
    router.message.filter(OnLoop(F.chat.type == ChatType.PRIVATE), OnLoop(is_moderator))
    router.callback_query.filter(OnLoop(is_moderator))
    router.callback_query.middleware(CallbackAnswerMiddleware())

    @router.message(Command("review"))
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
                f"<b>{escape(title)}</b> ({item.digest[:8]})\n"
                f"<pre>{escape(cut(changes, MAX_TEXT)[0])}</pre>{escape(more)}"
            )
            data = f"{item.subject}:{item.digest[:8]}"
            buttons = [
                [
                    InlineKeyboardButton(text="✅ Approuver", callback_data=f"mod:a:{data}"),
                    InlineKeyboardButton(text="✖ Rejeter", callback_data=f"mod:r:{data}"),
                ]
            ]
            await message.answer(text, reply_markup=InlineKeyboardMarkup(inline_keyboard=buttons))

    @router.callback_query(OnLoop(F.data.regexp(DECISION)))
    async def on_decision(callback: CallbackQuery, runtime: Runtime, callback_answer: CallbackAnswer) -> None:
        match = DECISION.match(callback.data or "")
        assert match is not None and callback.from_user is not None
        action, subject, short = match.groups()
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
            if action == "a":
                done = await approvals.approve(session, SCRIPT_ID, subject, digest, source, moderator)
                callback_answer.text = "Approuvé." if done else "Déjà approuvé : rien à faire."
            else:
                await approvals.reject(session, SCRIPT_ID, subject, digest, moderator)
                callback_answer.text = "Rejeté : les personnes gardent la version approuvée."
        log.info("moderator decision: %s %s %s", action, subject, short)
        await runtime.reload_approved()
        if callback.message is not None and hasattr(callback.message, "edit_reply_markup"):
            await callback.message.edit_reply_markup(reply_markup=None)

    @router.message(Command("history"))
    async def on_history(message: Message, runtime: Runtime) -> None:
        async with runtime.db() as session:
            events = (await approvals.history(session, SCRIPT_ID))[-15:]
        if not events:
            await message.answer("Aucune décision enregistrée.")
            return
        lines, buttons = [], []
        for event in events:
            lines.append(
                f"{event.created_at:%Y-%m-%d %H:%M} {event.action} {event.subject} {event.digest[:8]}"
                f" — {event.moderator}"
            )
            if event.action == "approve":
                buttons.append(
                    [
                        InlineKeyboardButton(
                            text=f"↩ {event.subject} {event.digest[:8]}",
                            callback_data=f"mod:b:{event.subject}:{event.digest[:8]}",
                        )
                    ]
                )
        await message.answer(
            "<pre>" + escape("\n".join(lines)) + "</pre>\nRevenir à une version approuvée :",
            reply_markup=InlineKeyboardMarkup(inline_keyboard=buttons[-8:]),
        )

    @router.callback_query(OnLoop(F.data.regexp(ROLLBACK)))
    async def on_rollback(callback: CallbackQuery, runtime: Runtime, callback_answer: CallbackAnswer) -> None:
        match = ROLLBACK.match(callback.data or "")
        assert match is not None and callback.from_user is not None
        subject, short = match.groups()
        async with runtime.db.begin() as session:
            approved = {
                e.digest
                for e in await approvals.history(session, SCRIPT_ID)
                if e.subject == subject and e.action == "approve"
            }
            digests = [d for d in approved if d.startswith(short)]
            done = len(digests) == 1 and await approvals.rollback(
                session, SCRIPT_ID, subject, digests[0], f"telegram:{callback.from_user.id}"
            )
        callback_answer.text = "Version rétablie." if done else "Version introuvable."
        await runtime.reload_approved()

    @router.message(Command("preview"))
    async def on_preview(message: Message, command: CommandObject, turn: Turn) -> None:
        """Walk the pending files exactly as a person would, marked PREVIEW; no ticket, no notice."""
        args = (command.args or "").split()
        locale = args[1] if len(args) > 1 else (args[0] if args and args[0] != SCRIPT_ID else "fr")
        try:
            turn.runtime.set_preview(load_files())
        except (ScriptInvalid, CatalogueInvalid) as exc:
            await message.answer(escape(f"Aperçu impossible : {exc.problems[0]}"))
            return
        turn.session.preview = True
        turn.session.state = None
        turn.session.locale = locale if locale in turn.runtime.preview.catalogs.locales else "fr"
        await conversation.show_current(turn)

    return router


def _subject_of(files: Version, subject: str) -> tuple[str | None, str]:
    """The digest and source the files hold for a subject, as they are now."""
    if subject == approvals.SCRIPT:
        return files.script.digest, files.source
    catalogue = files.catalogues.get(subject)
    return (catalogue.digest, po_text(subject)) if catalogue else (None, "")
