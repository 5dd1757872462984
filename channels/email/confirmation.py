"""The double opt-in email: "confirm that you want this list", with a signed link.

It goes out with the list's channel SMTP settings, or into the outbox when that channel is a
dry run, so the whole subscribe flow can be tried without a mail server.
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from distributor import errors
from distributor.clock import Clock
from distributor.rendering import Renderer
from distributor_channels.email import addresses, smtp
from distributor_channels.email.config import (
    CONFIRM_HTML_TEMPLATE,
    CONFIRM_TEXT_TEMPLATE,
    EmailChannelConfig,
)
from distributor_channels.email.dkim import DkimKeyError, signer_for
from distributor_channels.email.links import Links
from distributor_channels.email.message import POLICY, fold_lines
from distributor_channels.email.models import Subscriber
from distributor_channels.email.topics import from_column

log = logging.getLogger("distributor.email.confirmation")


class ConfirmationMailer:
    """Builds and sends (or writes to the outbox) confirmation emails."""

    def __init__(self, links: Links, renderer: Renderer, outbox_dir: Path, clock: Clock) -> None:
        self.links = links
        self.renderer = renderer
        self.outbox_dir = outbox_dir
        self.clock = clock

    def build(self, channel: EmailChannelConfig, subscriber: Subscriber) -> bytes:
        """The confirmation email for one pending reader."""
        now = self.clock()
        url = self.links.confirm(channel.list_name, subscriber.id, subscriber.address, now)
        context = {
            "list_title": channel.list_title or channel.list_name,
            "confirm_url": url,
            "topics": from_column(subscriber.topics),
            "expiry_days": channel.confirm_expiry_days,
            "address": subscriber.address,
        }
        msg = EmailMessage(policy=POLICY)
        msg["From"] = addresses.format_mailbox(channel.from_address)
        msg["To"] = subscriber.address
        if channel.reply_to:
            msg["Reply-To"] = addresses.format_mailbox(channel.reply_to)
        msg["Subject"] = " ".join(channel.confirm_subject.split())
        msg["Date"] = format_datetime(now)
        msg["Message-ID"] = make_msgid(idstring=f"confirm.{subscriber.id}", domain=channel.domain)
        msg["Auto-Submitted"] = "auto-generated"
        text = self.renderer.render(CONFIRM_TEXT_TEMPLATE, context).strip() + "\n"
        html = self.renderer.render(CONFIRM_HTML_TEMPLATE, context)
        msg.set_content(fold_lines(text), cte="8bit")
        msg.add_alternative(fold_lines(html), subtype="html", cte="8bit")
        return msg.as_bytes()

    async def send(self, channel: EmailChannelConfig, subscriber: Subscriber) -> str:
        """Mail it (or write it to the outbox); returns where it went.

        Raises:
            errors.DeliveryError: the SMTP server did not take it, or the setup is unusable.
        """
        try:
            data = self.build(channel, subscriber)
        except errors.TemplateError as exc:
            # The reason reaches the reader's page: the details (paths, lines) go to the log.
            log.error("channel %s: the confirmation email cannot be built: %s", channel.name, exc)
            raise smtp.error(
                errors.PermanentDeliveryError,
                channel,
                "confirm",
                "the confirmation email's template failed",
            ) from exc
        if channel.dry_run:
            path = (
                self.outbox_dir
                / channel.name
                / f"confirm-{subscriber.id:06d}-{_stamp(self.clock())}.eml"
            )
            await asyncio.to_thread(_write, path, data)
            return str(path)
        if self.links.development_secret:
            # With a published secret anybody could forge the link and confirm somebody else.
            raise smtp.error(
                errors.ChannelBroken,
                channel,
                "confirm",
                "web.secret is the development default: set a secret of your own first",
            )
        if channel.dkim is not None:
            data = await _signed(channel, data)
        await smtp.send_one(channel, subscriber.address, data, eight_bit=not data.isascii())
        return f"{channel.smtp.describe() if channel.smtp else 'smtp'}"


async def _signed(channel: EmailChannelConfig, data: bytes) -> bytes:
    assert channel.dkim is not None
    try:
        signer = await asyncio.to_thread(signer_for, channel.dkim, channel.domain)
    except DkimKeyError as exc:
        raise smtp.error(errors.ChannelBroken, channel, "confirm", str(exc)) from exc
    return signer.sign(data)


def _stamp(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%S%f")


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
