"""The few words the product itself writes into posts, per language; admins may override them."""

from __future__ import annotations

from collections.abc import Mapping

BUILTIN: dict[str, dict[str, str]] = {
    "en": {
        "read_more": "Read the full story",
        "unsubscribe": "Unsubscribe",
        "why_received": "You receive this because you subscribed to",
        "correction": "Updated",
        "corrected": "Corrected: this story was changed after it was first published.",
        "withdrawn": "This story has been withdrawn.",
        "correction_subject": "Correction",
        "withdrawal_subject": "Withdrawn",
        "update_subject": "Update",
        "digest_empty": "Nothing new since the last digest.",
    },
    "fr": {
        "read_more": "Lire l'article",
        "unsubscribe": "Se désabonner",
        "why_received": "Vous recevez ce message car vous êtes abonné·e à",
        "correction": "Mis à jour",
        "corrected": "Rectificatif : cet article a été modifié après sa première publication.",
        "withdrawn": "Cet article a été retiré.",
        "correction_subject": "Rectificatif",
        "withdrawal_subject": "Retiré",
        "update_subject": "Mise à jour",
        "digest_empty": "Rien de nouveau depuis le dernier résumé.",
    },
    "de": {
        "read_more": "Zum Artikel",
        "unsubscribe": "Abmelden",
        "why_received": "Sie erhalten diese Nachricht, weil Sie Folgendes abonniert haben:",
        "correction": "Aktualisiert",
        "corrected": "Korrigiert: Dieser Artikel wurde nach der ersten Veröffentlichung geändert.",
        "withdrawn": "Dieser Artikel wurde zurückgezogen.",
        "correction_subject": "Korrektur",
        "withdrawal_subject": "Zurückgezogen",
        "update_subject": "Update",
        "digest_empty": "Nichts Neues seit der letzten Übersicht.",
    },
    "es": {
        "read_more": "Leer el artículo",
        "unsubscribe": "Darse de baja",
        "why_received": "Recibes este mensaje porque te suscribiste a",
        "correction": "Actualizado",
        "corrected": "Corregido: este artículo se modificó después de su primera publicación.",
        "withdrawn": "Este artículo ha sido retirado.",
        "correction_subject": "Corrección",
        "withdrawal_subject": "Retirado",
        "update_subject": "Actualización",
        "digest_empty": "Nada nuevo desde el último resumen.",
    },
}


def labels_for(language: str, overrides: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """English, then the article's language; the admin's words over the built-in ones."""
    lang = language.split("-")[0].lower()
    merged = {**BUILTIN["en"], **overrides.get("en", {})}
    merged.update(BUILTIN.get(lang, {}))
    merged.update(overrides.get(lang, {}))
    return merged
