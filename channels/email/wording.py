"""What readers read besides the stories (pages, confirmation and welcome emails, the stories'
footer), in the list's language.

Built in for en, fr, de, es; an admin overrides any string under the config's ``labels`` key,
per language (``labels: {fr: {subscribe_button: "Je m'abonne"}}``). Placeholders ``{list}``,
``{address}``, ``{days}`` are filled by plain replacement, so an override with other braces in
it never breaks a page. Values are plain text: templates escape them.
"""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES = ("en", "fr", "de", "es")

BUILTIN: dict[str, dict[str, str]] = {
    "en": {
        "subscribe_heading": "Subscribe to {list}",
        "email_label": "Your email address",
        "topics_legend": "Only these topics (none ticked: every story)",
        "subscribe_button": "Subscribe",
        "subscribe_note": "We will email you a link to confirm. You receive nothing until you "
        "do, and every email has a link to leave.",
        "check_inbox_heading": "Check your inbox",
        "check_inbox": "If {address} can receive {list}, a confirmation link is on its way. "
        "Nothing is sent until you open it.",
        "too_many_heading": "Please try again later",
        "too_many": "Too many requests came from your network. Please try again in an hour.",
        "no_list_heading": "No such newsletter",
        "no_list": "There is no newsletter at this address.",
        "invalid_heading": "This link is not valid",
        "invalid": "The link may have been mistyped or cut, or a newer email replaced it. "
        "Please use the link from your latest email as it is.",
        "expired_heading": "This link has expired",
        "expired": "Confirmation links work for a few days. Please subscribe again.",
        "subscribe_again": "Subscribe again",
        "confirm_heading": "Confirm your subscription to {list}",
        "confirm_text": "You are about to receive {list} at {address}.",
        "confirm_button": "Confirm my subscription",
        "confirmed_heading": "Subscription confirmed",
        "confirmed": "{address} will receive {list}.",
        "unsubscribe_heading": "Unsubscribe from {list}",
        "unsubscribe_text": "Stop sending {list} to {address}?",
        "unsubscribe_button": "Unsubscribe",
        "unsubscribed_heading": "Unsubscribed",
        "unsubscribed": "{address} will receive no more {list}.",
        "preferences_heading": "Your preferences",
        "preferences_topics": "Topics (none ticked: every story)",
        "preferences_language": "Language",
        "preferences_save": "Save my preferences",
        "preferences_saved": "Your preferences for {list} are saved.",
        "leave_all_button": "Leave every newsletter",
        "left_all_heading": "Unsubscribed",
        "left_all": "{address} will receive none of our newsletters any more.",
        "confirm_mail_subject": "Please confirm your subscription",
        "confirm_mail_heading": "Please confirm your subscription to {list}",
        "confirm_mail_asked": "Somebody (we hope you) asked to receive {list} at {address}",
        "confirm_mail_about": "about",
        "confirm_mail_open": "To confirm, open this link within {days} days:",
        "confirm_mail_expiry": "The link works for {days} days.",
        "confirm_mail_ignore": "If you did not ask for this, ignore this email: you will "
        "receive nothing more.",
        "manage_preferences": "Unsubscribe or change your preferences",
        "confirm_mail_preferences": "To stop these emails or change your preferences:",
        "welcome_mail_subject": "Welcome to {list}",
        "welcome_mail_heading": "Welcome to {list}",
        "welcome_mail_text": "Your subscription is confirmed: {address} will receive {list}.",
        "welcome_mail_topics": "Your topics",
        "welcome_mail_every_story": "You will receive every story.",
        "welcome_mail_preferences": "You can change your topics and language, or unsubscribe, "
        "at any time:",
    },
    "fr": {
        "subscribe_heading": "S'abonner à {list}",
        "email_label": "Votre adresse e-mail",
        "topics_legend": "Seulement ces thèmes (aucun coché : tous les articles)",
        "subscribe_button": "S'abonner",
        "subscribe_note": "Nous vous enverrons un lien de confirmation. Vous ne recevrez rien "
        "avant de l'avoir ouvert, et chaque e-mail contient un lien de désabonnement.",
        "check_inbox_heading": "Consultez votre boîte de réception",
        "check_inbox": "Si {address} peut recevoir {list}, un lien de confirmation est en "
        "route. Rien n'est envoyé avant que vous l'ouvriez.",
        "too_many_heading": "Veuillez réessayer plus tard",
        "too_many": "Trop de demandes sont venues de votre réseau. Réessayez dans une heure.",
        "no_list_heading": "Lettre introuvable",
        "no_list": "Il n'y a pas de lettre d'information à cette adresse.",
        "invalid_heading": "Ce lien n'est pas valide",
        "invalid": "Le lien a peut-être été mal copié ou coupé, ou un e-mail plus récent l'a "
        "remplacé. Utilisez tel quel le lien de votre dernier e-mail.",
        "expired_heading": "Ce lien a expiré",
        "expired": "Les liens de confirmation sont valables quelques jours. Abonnez-vous à "
        "nouveau.",
        "subscribe_again": "S'abonner à nouveau",
        "confirm_heading": "Confirmez votre abonnement à {list}",
        "confirm_text": "Vous allez recevoir {list} à l'adresse {address}.",
        "confirm_button": "Confirmer mon abonnement",
        "confirmed_heading": "Abonnement confirmé",
        "confirmed": "{address} recevra {list}.",
        "unsubscribe_heading": "Se désabonner de {list}",
        "unsubscribe_text": "Ne plus envoyer {list} à {address} ?",
        "unsubscribe_button": "Se désabonner",
        "unsubscribed_heading": "Désabonnement effectué",
        "unsubscribed": "{address} ne recevra plus {list}.",
        "preferences_heading": "Vos préférences",
        "preferences_topics": "Thèmes (aucun coché : tous les articles)",
        "preferences_language": "Langue",
        "preferences_save": "Enregistrer mes préférences",
        "preferences_saved": "Vos préférences pour {list} sont enregistrées.",
        "leave_all_button": "Quitter toutes les lettres",
        "left_all_heading": "Désabonnement effectué",
        "left_all": "{address} ne recevra plus aucune de nos lettres d'information.",
        "confirm_mail_subject": "Merci de confirmer votre abonnement",
        "confirm_mail_heading": "Merci de confirmer votre abonnement à {list}",
        "confirm_mail_asked": "Quelqu'un (vous, nous l'espérons) a demandé à recevoir {list} "
        "à l'adresse {address}",
        "confirm_mail_about": "sur",
        "confirm_mail_open": "Pour confirmer, ouvrez ce lien dans les {days} jours :",
        "confirm_mail_expiry": "Le lien est valable {days} jours.",
        "confirm_mail_ignore": "Si vous n'avez rien demandé, ignorez cet e-mail : vous ne "
        "recevrez rien d'autre.",
        "manage_preferences": "Se désabonner ou modifier vos préférences",
        "confirm_mail_preferences": "Pour ne plus recevoir ces e-mails ou modifier vos "
        "préférences :",
        "welcome_mail_subject": "Bienvenue dans {list}",
        "welcome_mail_heading": "Bienvenue dans {list}",
        "welcome_mail_text": "Votre abonnement est confirmé : {address} recevra {list}.",
        "welcome_mail_topics": "Vos thèmes",
        "welcome_mail_every_story": "Vous recevrez tous les articles.",
        "welcome_mail_preferences": "Vous pouvez à tout moment changer vos thèmes et votre "
        "langue, ou vous désabonner :",
    },
    "de": {
        "subscribe_heading": "{list} abonnieren",
        "email_label": "Ihre E-Mail-Adresse",
        "topics_legend": "Nur diese Themen (keines angekreuzt: alle Artikel)",
        "subscribe_button": "Abonnieren",
        "subscribe_note": "Wir senden Ihnen einen Bestätigungslink. Bis Sie ihn öffnen, "
        "erhalten Sie nichts, und jede E-Mail enthält einen Abmeldelink.",
        "check_inbox_heading": "Sehen Sie in Ihr Postfach",
        "check_inbox": "Wenn {address} {list} empfangen kann, ist ein Bestätigungslink "
        "unterwegs. Bis Sie ihn öffnen, wird nichts gesendet.",
        "too_many_heading": "Bitte versuchen Sie es später erneut",
        "too_many": "Aus Ihrem Netz kamen zu viele Anfragen. Bitte versuchen Sie es in einer "
        "Stunde erneut.",
        "no_list_heading": "Newsletter nicht gefunden",
        "no_list": "Unter dieser Adresse gibt es keinen Newsletter.",
        "invalid_heading": "Dieser Link ist ungültig",
        "invalid": "Der Link wurde vielleicht falsch kopiert oder abgeschnitten, oder eine "
        "neuere E-Mail hat ihn ersetzt. Bitte verwenden Sie den Link aus Ihrer letzten E-Mail.",
        "expired_heading": "Dieser Link ist abgelaufen",
        "expired": "Bestätigungslinks gelten einige Tage. Bitte abonnieren Sie erneut.",
        "subscribe_again": "Erneut abonnieren",
        "confirm_heading": "Bestätigen Sie Ihr Abonnement von {list}",
        "confirm_text": "Sie erhalten {list} an {address}.",
        "confirm_button": "Abonnement bestätigen",
        "confirmed_heading": "Abonnement bestätigt",
        "confirmed": "{address} erhält ab jetzt {list}.",
        "unsubscribe_heading": "{list} abbestellen",
        "unsubscribe_text": "{list} nicht mehr an {address} senden?",
        "unsubscribe_button": "Abmelden",
        "unsubscribed_heading": "Abgemeldet",
        "unsubscribed": "{address} erhält {list} nicht mehr.",
        "preferences_heading": "Ihre Einstellungen",
        "preferences_topics": "Themen (keines angekreuzt: alle Artikel)",
        "preferences_language": "Sprache",
        "preferences_save": "Einstellungen speichern",
        "preferences_saved": "Ihre Einstellungen für {list} sind gespeichert.",
        "leave_all_button": "Alle Newsletter abbestellen",
        "left_all_heading": "Abgemeldet",
        "left_all": "{address} erhält keinen unserer Newsletter mehr.",
        "confirm_mail_subject": "Bitte bestätigen Sie Ihr Abonnement",
        "confirm_mail_heading": "Bitte bestätigen Sie Ihr Abonnement von {list}",
        "confirm_mail_asked": "Jemand (hoffentlich Sie) möchte {list} an {address} erhalten",
        "confirm_mail_about": "zu",
        "confirm_mail_open": "Öffnen Sie zur Bestätigung diesen Link innerhalb von {days} Tagen:",
        "confirm_mail_expiry": "Der Link gilt {days} Tage.",
        "confirm_mail_ignore": "Wenn Sie das nicht waren, ignorieren Sie diese E-Mail: Sie "
        "erhalten nichts weiter.",
        "manage_preferences": "Abmelden oder Einstellungen ändern",
        "confirm_mail_preferences": "Um diese E-Mails abzubestellen oder Ihre Einstellungen "
        "zu ändern:",
        "welcome_mail_subject": "Willkommen bei {list}",
        "welcome_mail_heading": "Willkommen bei {list}",
        "welcome_mail_text": "Ihr Abonnement ist bestätigt: {address} erhält ab jetzt {list}.",
        "welcome_mail_topics": "Ihre Themen",
        "welcome_mail_every_story": "Sie erhalten alle Artikel.",
        "welcome_mail_preferences": "Sie können Ihre Themen und Ihre Sprache jederzeit ändern "
        "oder sich abmelden:",
    },
    "es": {
        "subscribe_heading": "Suscribirse a {list}",
        "email_label": "Tu dirección de correo",
        "topics_legend": "Solo estos temas (ninguno marcado: todos los artículos)",
        "subscribe_button": "Suscribirme",
        "subscribe_note": "Te enviaremos un enlace de confirmación. No recibirás nada hasta "
        "que lo abras, y cada correo incluye un enlace para darte de baja.",
        "check_inbox_heading": "Revisa tu bandeja de entrada",
        "check_inbox": "Si {address} puede recibir {list}, un enlace de confirmación va en "
        "camino. No se envía nada hasta que lo abras.",
        "too_many_heading": "Inténtalo de nuevo más tarde",
        "too_many": "Llegaron demasiadas solicitudes desde tu red. Inténtalo de nuevo en una hora.",
        "no_list_heading": "Boletín no encontrado",
        "no_list": "No hay ningún boletín en esta dirección.",
        "invalid_heading": "Este enlace no es válido",
        "invalid": "Puede que el enlace se copiara mal o se cortara, o que un correo más "
        "reciente lo sustituyera. Usa tal cual el enlace de tu último correo.",
        "expired_heading": "Este enlace ha caducado",
        "expired": "Los enlaces de confirmación valen unos días. Vuelve a suscribirte.",
        "subscribe_again": "Volver a suscribirme",
        "confirm_heading": "Confirma tu suscripción a {list}",
        "confirm_text": "Vas a recibir {list} en {address}.",
        "confirm_button": "Confirmar mi suscripción",
        "confirmed_heading": "Suscripción confirmada",
        "confirmed": "{address} recibirá {list}.",
        "unsubscribe_heading": "Darse de baja de {list}",
        "unsubscribe_text": "¿Dejar de enviar {list} a {address}?",
        "unsubscribe_button": "Darme de baja",
        "unsubscribed_heading": "Baja realizada",
        "unsubscribed": "{address} ya no recibirá {list}.",
        "preferences_heading": "Tus preferencias",
        "preferences_topics": "Temas (ninguno marcado: todos los artículos)",
        "preferences_language": "Idioma",
        "preferences_save": "Guardar mis preferencias",
        "preferences_saved": "Tus preferencias para {list} se han guardado.",
        "leave_all_button": "Darme de baja de todos los boletines",
        "left_all_heading": "Baja realizada",
        "left_all": "{address} ya no recibirá ninguno de nuestros boletines.",
        "confirm_mail_subject": "Confirma tu suscripción",
        "confirm_mail_heading": "Confirma tu suscripción a {list}",
        "confirm_mail_asked": "Alguien (esperamos que tú) pidió recibir {list} en {address}",
        "confirm_mail_about": "sobre",
        "confirm_mail_open": "Para confirmar, abre este enlace en los próximos {days} días:",
        "confirm_mail_expiry": "El enlace vale {days} días.",
        "confirm_mail_ignore": "Si no lo pediste, ignora este correo: no recibirás nada más.",
        "manage_preferences": "Darte de baja o cambiar tus preferencias",
        "confirm_mail_preferences": "Para dejar de recibir estos correos o cambiar tus "
        "preferencias:",
        "welcome_mail_subject": "Te damos la bienvenida a {list}",
        "welcome_mail_heading": "Te damos la bienvenida a {list}",
        "welcome_mail_text": "Tu suscripción está confirmada: {address} recibirá {list}.",
        "welcome_mail_topics": "Tus temas",
        "welcome_mail_every_story": "Recibirás todos los artículos.",
        "welcome_mail_preferences": "Puedes cambiar tus temas e idioma, o darte de baja, "
        "cuando quieras:",
    },
}

LANGUAGE_NAMES = {"en": "English", "fr": "Français", "de": "Deutsch", "es": "Español"}


def language_of(wanted: str | None, list_language: str) -> str:
    """The reader's own choice when it is one we have words for, else the list's language."""
    if wanted and wanted in BUILTIN:
        return wanted
    return list_language


def words(
    language: str, overrides: Mapping[str, Mapping[str, str]], **values: object
) -> dict[str, str]:
    """Every reader-facing string in ``language`` (English where it has none), filled in."""
    merged = {**BUILTIN["en"], **overrides.get("en", {})}
    merged.update(BUILTIN.get(language, {}))
    merged.update(overrides.get(language, {}))
    filled = {}
    for key, text in merged.items():
        for name, value in values.items():
            text = text.replace("{" + name + "}", str(value))
        filled[key] = text
    return filled
