"""The welcome email: mailed once a reader has confirmed their subscription themselves.

Queued in the transaction that confirms (``optin.confirm``) and mailed by the workers
(``confirmqueue``) through the list's pacer and connection, like a confirmation email: the
confirming web request does no SMTP. It is in the reader's language (the list's unless they
chose another) and carries their signed preferences link and a one-click List-Unsubscribe.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import make_msgid

from distributor.clock import Clock
from distributor.rendering import Renderer
from distributor_channels.email import wording
from distributor_channels.email.config import (
    DEFAULT_WELCOME_SUBJECT,
    WELCOME_HTML_TEMPLATE,
    WELCOME_TEXT_TEMPLATE,
    EmailChannelConfig,
)
from distributor_channels.email.confirmation import envelope, finish
from distributor_channels.email.links import Links
from distributor_channels.email.message import unsubscribe_header
from distributor_channels.email.models import Subscriber
from distributor_channels.email.topics import from_column


class WelcomeMailer:
    """Builds welcome emails."""

    def __init__(
        self,
        links: Links,
        renderer: Renderer,
        clock: Clock,
        labels: Mapping[str, Mapping[str, str]],
    ) -> None:
        self.links = links
        self.renderer = renderer
        self.clock = clock
        self.labels = labels

    def build(self, channel: EmailChannelConfig, subscriber: Subscriber) -> bytes:
        """The welcome email of a reader who has just confirmed.

        Raises:
            errors.TemplateError: a template failed (a permanent error naming it).
        """
        title = channel.list_title or channel.list_name
        language = wording.language_of(subscriber.language, channel.language)
        t = wording.words(language, self.labels, list=title, address=subscriber.address)
        preferences = self.links.unsubscribe(channel.list_name, subscriber.id, subscriber.address)
        context = {
            "list_title": title,
            "preferences_url": preferences,
            "topics": from_column(subscriber.topics),
            "address": subscriber.address,
            "language": language,
            "t": t,
        }
        subject = channel.welcome_subject
        if subject == DEFAULT_WELCOME_SUBJECT:
            subject = t["welcome_mail_subject"]
        else:
            subject = subject.replace("{list}", title)
        msg = envelope(channel, subscriber.address, subject, self.clock())
        msg["Message-ID"] = make_msgid(idstring=f"welcome.{subscriber.id}", domain=channel.domain)
        # A mail of the list: leaving it is one click away, as from every story.
        msg["List-Id"] = channel.list_id
        msg["List-Unsubscribe"] = unsubscribe_header(channel, preferences)
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        return finish(
            msg, self.renderer, (WELCOME_TEXT_TEMPLATE, WELCOME_HTML_TEMPLATE), context, language
        )
