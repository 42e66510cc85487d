"""Every sentence the bot itself says, outside the scripts: French source msgids.

Kept in one file so translators and moderators can read them together. A comment line after a
blank line names a section: where its texts appear (the review sheet groups them by it). `N_` only marks
a string for extraction (`pybabel extract -F babel.cfg`); translation happens when the
text is shown, in the person's language.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dialogs.i18n import Translator


def N_(message: str) -> str:  # noqa: N802
    return message


def NP_(singular: str, plural: str) -> tuple[str, str]:  # noqa: N802
    """A message with plural forms: translate with `tr.ngettext(*MESSAGE, n)`."""
    return singular, plural


# Footer buttons, present on every screen.
# TRANSLATORS: button: at most 40 characters
EMERGENCY = N_("🆘 Urgence")
# TRANSLATORS: button: at most 40 characters
LANGUAGE = N_("🌐 Langue")
# TRANSLATORS: button: at most 40 characters
QUICK_EXIT = N_("✖ Quitter")

# Language picker.
CHOOSE_LANGUAGE = N_("Choisissez votre langue.")

# Commands, as shown in Telegram's menu (at most 256 characters each).
CMD_START = N_("Commencer ou reprendre")
CMD_LANGUAGE = N_("Changer de langue")
CMD_HELP = N_("Aide et numéros d'urgence")
CMD_EXIT = N_("Quitter vite et effacer nos messages")
CMD_FORGET = N_("Effacer tout ce que le bot garde")

# Help: the answer to /help.
HELP = N_(
    "Ce bot vous oriente vers une association d'aide, sans vous demander votre nom.\n\n"
    "/start : commencer ou reprendre\n"
    "/language : changer de langue\n"
    "/exit : quitter vite et effacer nos messages\n"
    "/forget : effacer tout ce que le bot garde\n\n"
    "Pour ne laisser aucune trace, effacez aussi cette conversation dans Telegram.\n\n"
    "En danger : 17 (police), 112 (urgences), 114 (SMS)."
)

# After a quick exit: one neutral line, nothing that says what the chat was about.
NEUTRAL = N_("Bonne journée ☀️")
FORGOTTEN = N_(
    "C'est fait : vos réponses et votre demande sont effacées. Pour effacer aussi ces messages, tapez /exit."
)

# Answers to what the bot cannot use. Nothing the person sent is kept, and it is deleted from the chat.
MEDIA = N_(
    "J'ai effacé ce que vous avez envoyé : je ne lis pas les fichiers, les photos, les vidéos ni les messages vocaux. "
    "Rien n'est gardé. Utilisez les boutons ci-dessous."
)
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

# Above the consent question: everything the notice would carry, then who would receive it.
SUMMARY_TITLE = N_("Ce qui sera envoyé :")
NOT_GIVEN = N_("non précisé")
# TRANSLATORS: separator between a label and its value in a summary:
# "Besoins : Me soigner". Only punctuation and spaces, as your language
# writes them: English ": ", Chinese "：".
LABEL_SEPARATOR = N_(" : ")
CONSENT_TICKET = N_("Un numéro de demande et la version des questions.")
CONSENT_REFERENCE = N_("Une référence courte : vous la verrez après l'envoi.")
RECIPIENT = N_("À cette association :")

# Hints after a département on a button. When a town is in several départements, each button
# names one, then a hint a person recognises ("93 Seine-Saint-Denis · Paris et environs"): by
# the kind storage.places.PlaceParser.hint gives.
PLACE_HINTS = {
    # TRANSLATORS: after a département on a button: "93 Seine-Saint-Denis · Paris et environs". {place}: a town
    "near": N_("{place} et environs"),
    # TRANSLATORS: after an overseas département on a button ("972 Martinique · Caraïbes"): the Caribbean
    "caribbean": N_("Caraïbes"),
    # TRANSLATORS: after an overseas département on a button ("973 Guyane · Amérique du Sud")
    "south_america": N_("Amérique du Sud"),
    # TRANSLATORS: after an overseas département on a button ("974 La Réunion · océan Indien")
    "indian_ocean": N_("océan Indien"),
}


def place_hint(hint: tuple[str, str], tr: Translator) -> str:
    """A département's hint in the person's language: "Paris et environs", "océan Indien"."""
    kind, place = hint
    return tr.gettext(PLACE_HINTS[kind]).format(place=place)


# When something failed on our side.
SORRY = N_("Désolé, quelque chose n'a pas marché. Réessayez, ou tapez /start.")

# The handoff, on the person's side.
ASSOCIATION_OUTSIDE = N_("Aucune association ne couvre votre département : voici la plus proche.")
ASSOCIATION_NEXT = N_(
    "Une association qui n'a pas pu prendre votre demande ne la reçoit pas une deuxième fois. "
    "Voici la plus proche parmi les autres :"
)
IN_YOUR_DEPARTEMENT = N_("Elle travaille dans votre département.")
# The distance is measured from the département's reference point (the mean of its towns' coordinates),
# never from the person: nothing more precise than the département is known.
DISTANCE_KM = N_("À environ {distance} km du centre de votre département.")
NO_ASSOCIATION = N_(
    "Aucune association ne peut recevoir de demande pour le moment. Rien n'a été envoyé. "
    "En danger, appuyez sur « Urgence »."
)
YOUR_CODE = N_("Votre code :")
YOUR_REFERENCE = N_("Référence à donner si vous appelez l'association ou allez la voir : {reference}")
PHONE = N_("Téléphone :")
WEBSITE = N_("Site :")
HOURS = N_("Horaires :")

# The mailbox: with the code, the association's replies, and an answer back.
# TRANSLATORS: button: at most 40 characters
CHECK_REPLIES = N_("🔄 Voir les réponses")
# TRANSLATORS: button: at most 40 characters
ANSWER = N_("✉ Répondre")
# TRANSLATORS: button: at most 40 characters
DELETE_TICKET = N_("🗑 Effacer ma demande")
# TRANSLATORS: button: at most 40 characters
CANCEL = N_("Annuler")
STATUS_QUEUED = N_("Votre demande part vers l'association : elle n'y est pas encore arrivée.")
STATUS_SENT = N_("Votre demande est envoyée. L'association ne l'a pas encore acceptée.")
STATUS_ACCEPTED = N_("L'association a accepté votre demande.")
STATUS_DECLINED = N_(
    "L'association ne peut pas prendre votre demande. Vous pouvez recommencer pour en contacter une autre."
)
STATUS_PASSED_ON = N_("Votre demande a été transmise à une autre association.")
STATUS_REROUTED = N_(
    "L'association choisie n'a pas pu être jointe. Votre demande a été transmise à une autre association."
)
STATUS_UNDELIVERED = N_(
    "Votre demande n'a pas pu être remise : l'association n'a pas pu être jointe, et aucune autre ne peut la "
    "recevoir pour le moment. Vous pouvez l'effacer et recommencer plus tard. En danger, appuyez sur « Urgence »."
)
NO_REPLY_YET = N_("Pas encore de réponse.")
REPLIES = NP_("{n} réponse de l'association :", "{n} réponses de l'association :")
PAGE = N_("Page {page} sur {pages} : les plus récentes d'abord.")
# TRANSLATORS: button: at most 40 characters. Shows the more recent replies of the association.
NEWER = N_("◀ Plus récentes")
# TRANSLATORS: button: at most 40 characters. Shows the older replies of the association.
OLDER = N_("Plus anciennes ▶")
TICKET_GONE = N_("Ce code n'ouvre aucune demande. Elle a peut-être été effacée.")
TICKET_DELETED = N_("Votre demande est effacée.")
TOO_MANY_TRIES = N_("Trop d'essais. Réessayez dans une heure.")
COMPOSE = N_(
    "Écrivez votre message ci-dessous. Ne donnez que ce que vous voulez : pas besoin de nom, d'adresse ou de numéro. "
    "Votre message est effacé ici dès qu'il est transmis."
)
RELAYED = N_("Votre message est transmis à l'association.")
RELAY_TOO_LONG = N_("Ce message est trop long. Écrivez moins de {limit} caractères.")

# When a limit stops a flood: the emergency screen follows each of these.
HANDOFF_LIMIT = N_(
    "Vous avez déjà envoyé plusieurs demandes ces dernières 24 heures. Pour que chacune soit bien lue, "
    "vous pourrez en envoyer une autre plus tard. Vos demandes envoyées restent ouvertes avec leur code."
)
RELAY_LIMIT = N_(
    "Vous avez déjà envoyé plusieurs messages pour cette demande dans l'heure. Celui-ci n'est pas parti : "
    "vous pourrez l'envoyer un peu plus tard. L'association lira les précédents."
)

# The association's side (in the association's language, French by default).
NOTICE_TITLE = N_("Nouvelle demande anonyme n° {ticket}")
NOTICE_PASSED_TITLE = N_("Demande anonyme n° {ticket}, transmise par une autre association")
NOTICE_REFERENCE = N_("Référence : {reference}")
NOTICE_LANGUAGE = N_("Langue : {language}")
NOTICE_INTERPRETER = N_("Interprète demandé")
NOTICE_MINOR = N_("⚠️ Personne mineure")
NOTICE_DANGER = N_("⚠️ La personne a dit être en danger")
NOTICE_MAILBOX = N_("La personne lira votre réponse ici avec son code : utilisez « Répondre ».")
NOTICE_SELF = N_("La personne vous appellera ou viendra vous voir.")
NOTICE_VERSION = N_("Version du questionnaire : {version}")
# TRANSLATORS: button: at most 40 characters
NOTICE_ACCEPT = N_("✅ Accepter")
# TRANSLATORS: button: at most 40 characters
NOTICE_DECLINE = N_("✖ Refuser")
# TRANSLATORS: button: at most 40 characters
NOTICE_PASS = N_("↪ Transmettre")
# TRANSLATORS: button: at most 40 characters
NOTICE_REPLY = N_("💬 Répondre")
NOTICE_ACCEPTED = N_("✅ Acceptée.")
NOTICE_DECLINED = N_("✖ Refusée.")
NOTICE_PASSED = N_("↪ Transmise à une autre association.")
NOTICE_NOT_YOURS = N_("Cette demande n'est pas pour ce groupe.")
NOTICE_ALREADY = N_("Cette demande a déjà été traitée.")
NOTICE_NO_OTHER = N_("Aucune autre association disponible : la demande reste chez vous.")
NOTICE_TIMEOUT = N_("La demande n° {ticket} n'a pas été acceptée à temps : elle est transmise à une autre association.")
NOTICE_REMINDER = N_(
    "⏰ La demande n° {ticket} ({reference}) n'est pas encore acceptée. "
    "Sans réponse dans {hours} h, elle passera à une autre association."
)
REPLY_PROMPT = N_("Réponse à la demande n° {ticket} : écrivez votre réponse en répondant à ce message.")
REPLY_SAVED = N_("Réponse enregistrée. La personne la lira avec son code.")
REPLY_TOO_LONG = N_(
    "Réponse trop longue : {length} caractères, pour {limit} au plus. Rien n'a été enregistré : "
    "envoyez-la en plusieurs réponses plus courtes."
)
RELAY_TITLE = N_("Message de la personne, demande n° {ticket} :")
ENROLLED = N_("Ce groupe reçoit désormais les demandes anonymes pour : {name}.")
ENROLL_REFUSED = N_("Code invalide ou expiré.")
ENROLL_GROUPS_ONLY = N_(
    "L'inscription se fait dans le groupe Telegram de l'équipe, pas dans une conversation privée ni dans un canal."
)
ENROLL_PUBLIC = N_(
    "Ce groupe est public (il a un nom d'utilisateur) : les demandes n'y seront pas envoyées. Utilisez un groupe privé."
)
REQUEST_GONE = N_("Cette demande n'existe plus.")
GROUP_PURGED = N_("Demande effacée.")
ACCREDITATION_ENDING = N_(
    "⚠️ D'après l'annuaire du bot, l'agrément de votre association se termine le {date}. "
    "Après cette date, le bot ne vous enverra plus de nouvelles demandes. "
    "S'il est renouvelé, donnez la nouvelle date à la personne qui gère le bot."
)

# What Telegram shows about the bot before a chat starts: discreet on purpose, since the
# phone may be seen by someone else (setMyDescription, setMyShortDescription).
DESCRIPTION = N_(
    "Des questions simples, dans votre langue, pour trouver une association d'aide près de chez vous. "
    "Anonyme : pas de nom, pas de numéro de téléphone."
)
SHORT_DESCRIPTION = N_("Trouver une association d'aide, sans donner son nom.")

# Shown above the language picker when Telegram says traditional Chinese.
TRADITIONAL_CHINESE = N_("Le chinois n'est disponible qu'en caractères simplifiés.")
