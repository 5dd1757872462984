"""The double opt-in email: "confirm that you want this list", with a signed link.

Built by the workers (``confirmqueue``) when they take a queued request, in the reader's
language (the list's unless the reader chose another), never inside a web request.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from distributor.clock import Clock
from distributor.rendering import Renderer
from distributor_channels.email import addresses, wording
from distributor_channels.email.config import (
    CONFIRM_HTML_TEMPLATE,
    CONFIRM_TEXT_TEMPLATE,
    DEFAULT_CONFIRM_SUBJECT,
    EmailChannelConfig,
)
from distributor_channels.email.links import Links
from distributor_channels.email.message import POLICY, fold_lines
from distributor_channels.email.models import Subscriber
from distributor_channels.email.topics import from_column


class ConfirmationMailer:
    """Builds confirmation emails."""

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

    def build(
        self, channel: EmailChannelConfig, subscriber: Subscriber, nonce: str, issued: datetime
    ) -> bytes:
        """The confirmation email answering one request (``nonce``, made at ``issued``).

        Raises:
            errors.TemplateError: a template failed (a permanent error naming it).
        """
        title = channel.list_title or channel.list_name
        language = wording.language_of(subscriber.language, channel.language)
        url = self.links.confirm(
            channel.list_name, subscriber.id, subscriber.address, issued, nonce
        )
        t = wording.words(
            language,
            self.labels,
            list=title,
            address=subscriber.address,
            days=channel.confirm_expiry_days,
        )
        topics = subscriber.requested_topics
        context = {
            "list_title": title,
            "confirm_url": url,
            "preferences_url": self.links.unsubscribe(
                channel.list_name, subscriber.id, subscriber.address
            ),
            "topics": from_column(topics if topics is not None else subscriber.topics),
            "expiry_days": channel.confirm_expiry_days,
            "address": subscriber.address,
            "language": language,
            "t": t,
        }
        subject = channel.confirm_subject
        if subject == DEFAULT_CONFIRM_SUBJECT:
            subject = t["confirm_mail_subject"]
        msg = envelope(channel, subscriber.address, subject, self.clock())
        msg["Message-ID"] = make_msgid(idstring=f"confirm.{subscriber.id}", domain=channel.domain)
        return finish(
            msg,
            self.renderer,
            (CONFIRM_TEXT_TEMPLATE, CONFIRM_HTML_TEMPLATE),
            context,
            language,
        )


def envelope(
    channel: EmailChannelConfig, address: str, subject: str, date: datetime
) -> EmailMessage:
    """The headers every subscription email has: From, To, Reply-To, Subject, Date."""
    msg = EmailMessage(policy=POLICY)
    msg["From"] = addresses.format_mailbox(channel.from_address)
    msg["To"] = address
    if channel.reply_to:
        msg["Reply-To"] = addresses.format_mailbox(channel.reply_to)
    msg["Subject"] = " ".join(subject.split())
    msg["Date"] = format_datetime(date)
    msg["Auto-Submitted"] = "auto-generated"
    return msg


def finish(
    msg: EmailMessage,
    renderer: Renderer,
    templates: tuple[str, str],
    context: Mapping[str, object],
    language: str,
) -> bytes:
    """Render the text and HTML parts (``templates``) into ``msg``; the message's bytes.

    Raises:
        errors.TemplateError: a template failed (a permanent error naming it).
    """
    text_template, html_template = templates
    text = renderer.render(text_template, context).strip() + "\n"
    html = renderer.render(html_template, context)
    msg.set_content(fold_lines(text), cte="8bit")
    msg.add_alternative(fold_lines(html), subtype="html", cte="8bit")
    msg["Content-Language"] = language  # after set_content, which drops Content-* headers
    return msg.as_bytes()
