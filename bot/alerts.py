"""Alerts for the people who run the bot: queued in the outbox, like every message to staff.

An alert is written in the same transaction as what caused it (a chat gone, a message
given up, a flood held), so it cannot be lost between the two; the sender delivers it with
retries, after notices and before relays. It names an association and at most a ticket
number: never anything about a person. Staff-facing, like the moderators' commands, it is
written in French and not translated.
"""

from __future__ import annotations

import logging
from html import escape

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from storage.models import OutboxMessage

log = logging.getLogger(__name__)

UNREACHABLE = (
    "⚠️ L'association {slug} est injoignable sur Telegram ({why}). Elle ne reçoit plus de nouvelles demandes ; "
    "ses demandes en cours passent à l'association suivante. Pour la rétablir : "
    "passerelle associations enroll {slug}, puis /enroll dans son groupe."
)
GIVEN_UP = "⚠️ Message abandonné ({what}, demande n° {ticket}, {slug}) : {why}. {then}"
GONE_WHY = "bot retiré ou bloqué, ou groupe supprimé"
NO_CHAT = "la conversation n'existe plus pour le bot"
REFUSED = "refusé par Telegram, c'est un bug à signaler aux développeurs"
TIMED_OUT = "Telegram n'a pas répondu pendant {hours} h"
PASSED_ON = "La demande passe à l'association suivante."
NOT_PASSED_ON = "Aucune autre association ne peut la recevoir : la personne le voit sur son écran."
HELD = (
    "⚠️ Plus de {limit} demandes pour {slug} cette heure-ci : "
    "les suivantes sont retenues jusqu'à l'heure suivante. "
    "Voir : passerelle outbox list ; libérer une demande : passerelle outbox retry ID."
)
ACCREDITATION = (
    "⚠️ L'accréditation de {slug} se termine le {date}. Après cette date, elle ne reçoit plus de demandes : "
    "mettez l'annuaire à jour (passerelle associations import)."
)
TEAM_PAUSED = "⏸ {slug} a suspendu ses nouvelles demandes depuis son groupe ({reason}) : /resume les reprend."
TEAM_RESUMED = "▶️ {slug} reçoit de nouveau les demandes (reprise depuis son groupe)."
WHAT = {"notice": "avis", "relay": "message de la personne", "info": "information", "alert": "alerte"}
"""How a row's kind is named in an alert."""


def recipients(settings: Settings) -> tuple[int, ...]:
    """ALERT_CHAT_ID, or else each moderator in private."""
    return (settings.alert_chat_id,) if settings.alert_chat_id is not None else settings.moderator_ids


def queue_alert(session: AsyncSession, settings: Settings, text: str) -> int:
    """Queue `text` for every recipient, in the caller's transaction; returns how many."""
    chats = recipients(settings)
    if not chats:
        log.error("an alert has no recipient: set ALERT_CHAT_ID or MODERATOR_IDS")
    for chat_id in chats:
        session.add(OutboxMessage(ticket_id=None, chat_id=chat_id, kind="alert", text=escape(text)))
    return len(chats)
