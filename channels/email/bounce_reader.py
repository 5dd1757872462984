"""Reading bounces while the service runs: the IMAP folder on a schedule, and SES notices.

Both end in ``BounceHandler``: what the mail or notice says (``bounces``), then what it does to
the reader (``suppression``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence

from distributor.config import AppConfig
from distributor.store import Store
from distributor_channels.email import addresses, bounces, imap
from distributor_channels.email.bounce_config import BounceConfig
from distributor_channels.email.config import EmailChannelConfig
from distributor_channels.email.links import Links
from distributor_channels.email.suppression import Applied, Suppressor
from distributor_channels.email.verp import BounceTokens

log = logging.getLogger("distributor.email.bounces")


def email_channels(app: AppConfig) -> list[EmailChannelConfig]:
    return [c for c in app.channels if isinstance(c, EmailChannelConfig)]


class BounceHandler:
    """Turns one bounce mail (or SES notice) into suppressions, for every list of the config."""

    def __init__(self, app: AppConfig, store: Store, source: str) -> None:
        web = app.web
        previous = [s.get_secret_value() for s in web.previous_secrets]
        self.tokens = BounceTokens(web.secret.get_secret_value(), previous)
        channels = email_channels(app)
        policies: dict[str, BounceConfig] = {
            c.list_name: c.bounces for c in channels if c.bounces is not None
        }
        mailtos: dict[str, list[str]] = {}
        for channel in channels:
            if channel.unsubscribe_mailto:
                mailto = addresses.mailbox(channel.unsubscribe_mailto)[1].lower()
                mailtos.setdefault(mailto, []).append(channel.list_name)
        self.mailtos: Mapping[str, Sequence[str]] = mailtos
        self.suppressor = Suppressor(store, policies, Links(web).signer, source)

    async def handle_mail(self, raw: bytes) -> list[Applied]:
        notice = bounces.read(raw, self.tokens, self.mailtos)
        if notice is None:
            log.info("bounce mailbox: a mail that is no bounce, complaint or unsubscribe: dropped")
            return []
        return await self.suppressor.apply(notice)


class MailboxReader:
    """Polls one channel's bounce folder every ``poll_seconds`` until cancelled."""

    def __init__(self, channel: EmailChannelConfig, app: AppConfig, store: Store) -> None:
        imap_config = channel.bounces.imap if channel.bounces is not None else None
        if imap_config is None:
            raise ValueError(f"email channel {channel.name!r} has no bounces.imap")
        self.imap = imap_config
        self.channel = channel.name
        self.handler = BounceHandler(app, store, "imap")

    async def _handle(self, raw: bytes) -> bool:
        try:
            await self.handler.handle_mail(raw)
        except Exception:  # the store is down, or a bug: keep the mail for the next poll
            log.exception("email channel %r: a bounce could not be handled", self.channel)
            return False
        return True

    async def poll_once(self) -> imap.PollReport:
        return await imap.poll(self.imap, self._handle)

    async def run_forever(self) -> None:
        while True:
            try:
                report = await self.poll_once()
                if report.read:
                    log.info(
                        "email channel %r: %d bounce mail(s) read, %d handled",
                        self.channel,
                        report.read,
                        report.handled,
                    )
            except imap.ImapError as exc:
                log.warning("email channel %r: bounce mailbox: %s", self.channel, exc)
            await asyncio.sleep(self.imap.poll_seconds)
