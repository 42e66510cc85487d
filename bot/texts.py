"""Every sentence the bot itself says, outside the scripts: French source msgids.

Kept in one file so translators and moderators can read them together. `N_` only marks
a string for extraction (`pybabel extract -F babel.cfg`); translation happens when the
text is shown, in the person's language.
"""

from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802
    return message


# Buttons present on every screen.
EMERGENCY = N_("🆘 Urgence")
LANGUAGE = N_("🌐 Langue")
QUICK_EXIT = N_("✖ Quitter")

# Language picker.
CHOOSE_LANGUAGE = N_("Choisissez votre langue.")

# Commands, as shown in Telegram's menu (at most 256 characters each).
CMD_START = N_("Commencer ou reprendre")
CMD_LANGUAGE = N_("Changer de langue")
CMD_HELP = N_("Aide et numéros d'urgence")
CMD_EXIT = N_("Quitter vite et effacer la conversation")
CMD_FORGET = N_("Effacer tout ce que le bot garde")

HELP = N_(
    "Ce bot vous oriente vers une association d'aide, sans vous demander votre nom.\n\n"
    "/start : commencer ou reprendre\n"
    "/language : changer de langue\n"
    "/exit : quitter vite et effacer la conversation\n"
    "/forget : effacer tout ce que le bot garde\n\n"
    "En danger : 17 (police), 112 (urgences), 114 (SMS)."
)

# After a quick exit: one neutral line, nothing that says what the chat was about.
NEUTRAL = N_("Bonne journée ☀️")
FORGOTTEN = N_("C'est fait : le bot ne garde plus rien de cette conversation.")

# Answers to what the bot cannot use. Nothing the person sent is kept.
MEDIA = N_("Je ne peux lire que du texte et les boutons. Ce que vous avez envoyé n'est pas gardé.")
CONTACT = N_("Je n'ai pas besoin d'un numéro de téléphone. Il n'est pas gardé.")
LOCATION = N_("Je n'ai pas besoin de votre position ici. Elle n'est pas gardée.")
USE_BUTTONS = N_("Merci d'utiliser les boutons ci-dessous.")
TOO_LONG = N_("Ce message est trop long pour moi. Merci d'utiliser les boutons ci-dessous.")
UNKNOWN_COMMAND = N_("Je ne connais pas cette commande. Essayez /start ou /help.")
EDITED = N_("Je ne vois pas les messages modifiés. Envoyez plutôt un nouveau message.")

# Buttons and sessions that are no longer valid.
STALE_BUTTON = N_("Ce bouton n'est plus actif.")
EXPIRED = N_("La conversation précédente a été effacée. On recommence.")
UPDATED = N_("Les questions ont changé. On recommence depuis le début.")

# Summary shown above the consent question.
SUMMARY_TITLE = N_("Votre demande :")
NOT_GIVEN = N_("non précisé")


# When something failed on our side.
SORRY = N_("Désolé, quelque chose n'a pas marché. Réessayez, ou tapez /start.")
