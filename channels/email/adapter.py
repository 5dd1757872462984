"""The email channel: one delivery per (story, list), fanned out to every matching reader.

``idempotent`` is True: the per-recipient ledger makes a retry (or a resend after a crash) mail
only the readers not yet done, so it never needs ``SendContext.about_to_send``.
``supports_delete`` and ``supports_edit`` are False: an email cannot be recalled or edited. A
retraction stops the fan-out before its next claim (the feed checks the story's status), so
readers not yet mailed never get it; ``sends_notices`` is True: those who got it are mailed a
withdrawal notice (and a correction notice for a correction with a note), see ``notices``.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable, Sequence

from sqlalchemy.exc import SQLAlchemyError

from distributor import errors
from distributor.adapter import AdapterContext, PayloadBuilder
from distributor.config import ChannelConfig
from distributor.logs import install_redaction
from distributor.send_context import SendContext
from distributor.store import Store
from distributor.types import MessageRef, RenderedMessage, SendResult
from distributor_channels.email import addresses, digest, smtp
from distributor_channels.email.config import EmailChannelConfig
from distributor_channels.email.dkim import DkimKeyError, DkimSigner, signer_for
from distributor_channels.email.fanout import FanOut, Report
from distributor_channels.email.links import Links
from distributor_channels.email.message import (
    Recipient,
    StoryMessage,
    build_story,
    digest_id_base,
    digest_message_id,
    message_id,
    message_id_base,
    original_article,
)
from distributor_channels.email.models import SendStatus
from distributor_channels.email.notices import NoticeMailer
from distributor_channels.email.payload import EmailPayloads
from distributor_channels.email.sendlog import DIGESTS, Claimed, SendLog
from distributor_channels.email.verp import BounceTokens

# Concurrent "sent" commits on PostgreSQL (SQLite has a single writer: one). The second lane
# takes only a big enough group (``fanout.extra_lane_group``): a third lane, or a lane for
# every ready message, made twice as many commits for no measurable gain.
COMMIT_LANES = 2


class EmailAdapter:
    supports_edit = False
    supports_delete = False
    sends_notices = True
    idempotent = True

    def __init__(
        self, config: EmailChannelConfig, builder: EmailPayloads, context: AdapterContext
    ) -> None:
        # The protocol's types, and the email-specific ones for this module's own use.
        self.config: ChannelConfig = config
        self.builder: PayloadBuilder = builder
        self.email = config
        self.core = context  # what the core provides (operations get a SendContext)
        secret_values = [context.app.web.secret.get_secret_value()]
        if config.smtp is not None and config.smtp.password is not None:
            secret_values.append(config.smtp.password.get_secret_value())
        if config.bounces is not None and config.bounces.imap is not None:
            secret_values.append(config.bounces.imap.password.get_secret_value())
        install_redaction(secret_values)
        self._signer: DkimSigner | None = None
        self.last_report: Report | None = None  # what the last send did (counts, commits)
        self._mailbox: asyncio.Task[None] | None = None  # the bounce mailbox poller

    def __repr__(self) -> str:
        return f"EmailAdapter(channel={self.config.name!r}, list={self.email.list_name!r})"

    async def start(self) -> None:
        # The bounce mailbox is read while the service runs (not in a dry run: nothing is sent).
        bounces = self.email.bounces
        store = self.core.store
        live = not self.email.dry_run and store is not None
        if live and bounces is not None and bounces.imap is not None:
            from distributor_channels.email.bounce_reader import MailboxReader

            assert store is not None
            reader = MailboxReader(self.email, self.core.app, store)
            self._mailbox = asyncio.create_task(reader.run_forever())

    async def aclose(self) -> None:
        task, self._mailbox = self._mailbox, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def send(self, message: RenderedMessage, context: SendContext) -> SendResult:
        """Mail the story to every confirmed reader of the list whose topics match its tags
        (a digest: to every reader following a topic of one story it lists, see ``digest``).

        Raises:
            errors.TransientDeliveryError: some readers were deferred (4xx) or the server was
                unreachable; a retry mails only the readers not yet done.
            errors.ChannelBroken: login refused, sender refused, TLS failure, unusable setup.
            errors.PermanentDeliveryError: the story was retracted during the send.
        """
        store = self.core.store
        if store is None:
            raise self._broken("the email channel needs the store (its subscriber lists)")
        try:
            return await self._send(store, message, context)
        except (SQLAlchemyError, OSError) as exc:
            raise smtp.error(
                errors.TransientDeliveryError, self.email, "send", f"the store failed: {exc}"
            ) from exc

    async def _send(
        self, store: Store, message: RenderedMessage, context: SendContext
    ) -> SendResult:
        if digest.is_digest(message.payload):
            return await self._send_digest(store, message, context)
        links = self._links()
        # A developing story's update goes, threaded, to the readers who got the original.
        reply = context.reply_to
        original = original_article(reply.message_id) if reply is not None else None
        readers_of = (original, self.config.name) if original is not None else None
        log = SendLog(
            store,
            context.delivery_id,
            owner=f"{context.key}:{secrets.token_hex(6)}",
            readers_of=readers_of,
        )
        if await log.retracted(context.article_id):
            raise smtp.error(
                errors.PermanentDeliveryError,
                self.email,
                "send",
                "the story was retracted before it was mailed",
            )
        story = self._build(message, update=original is not None)
        list_name, domain = self.email.list_name, self.email.domain  # parsed once, not per reader

        def recipient(reader: Claimed) -> Recipient:
            sid = reader.subscriber_id
            return Recipient(
                address=reader.address,
                message_id=message_id(list_name, domain, context.article_id, sid),
                unsubscribe_url=links.unsubscribe(list_name, sid, reader.address),
                in_reply_to=None
                if original is None
                else message_id(list_name, domain, original, sid),
            )

        tags = list(message.payload.get("tags", ()))
        report = await self._fan_out(store, log, story, tags, recipient, context, names_story=True)
        ref = MessageRef(list_name, message_id_base(self.email, context.article_id), kind="email")
        return self._result(report, ref)

    async def _send_digest(
        self, store: Store, message: RenderedMessage, context: SendContext
    ) -> SendResult:
        """A digest (``context.delivery_id`` is the digest's id) to the list's readers, through
        the story's fan-out with the digest's own per-reader ledger."""
        links = self._links()
        digest_id = context.delivery_id
        owner = f"d{digest_id}:{secrets.token_hex(6)}"
        log = SendLog(store, digest_id, owner=owner, ledger=DIGESTS)
        mail = self._build(message)
        topics = await digest.audience(store, message.payload.get("stories", ()))
        list_name, domain = self.email.list_name, self.email.domain

        def recipient(reader: Claimed) -> Recipient:
            sid = reader.subscriber_id
            return Recipient(
                address=reader.address,
                message_id=digest_message_id(list_name, domain, digest_id, sid),
                unsubscribe_url=links.unsubscribe(list_name, sid, reader.address),
            )

        report = await self._fan_out(
            store, log, mail, topics, recipient, context, names_story=False
        )
        ref = MessageRef(list_name, digest_id_base(self.email, digest_id), kind="email")
        return self._result(report, ref)

    def _build(self, message: RenderedMessage, *, update: bool = False) -> StoryMessage:
        try:
            return build_story(self.email, message.payload, self.core.clock(), update=update)
        except (ValueError, KeyError) as exc:
            raise smtp.error(
                errors.PermanentDeliveryError, self.email, "send", f"unusable message: {exc}"
            ) from exc

    async def _fan_out(
        self,
        store: Store,
        log: SendLog,
        mail: StoryMessage,
        tags: Sequence[str] | None,
        recipient: Callable[[Claimed], Recipient],
        context: SendContext,
        *,
        names_story: bool,
    ) -> Report:
        """Mail ``mail`` to the readers ``log`` holds (``tags`` None: every reader of the list).

        ``names_story``: each Return-Path names the story, so a bounce is counted against it.
        """
        signer = await self._dkim()
        list_name = self.email.list_name
        envelope = None
        if self.email.bounces is not None:
            tokens = BounceTokens(*self._secrets())
            bounce_address = addresses.mailbox(self.email.bounces.address)[1]
            article_id = context.article_id if names_story else None

            def envelope(reader: Claimed) -> str:
                return tokens.address(bounce_address, list_name, reader.subscriber_id, article_id)

        fanout = FanOut(
            config=self.email,
            story=mail,
            tags=tags,
            log=log,
            article_id=context.article_id,
            recipient=recipient,
            pacer=self.core.pacer,
            progress=self.core.progress,
            progress_key=context.key,
            signer=signer,
            commit_lanes=1 if store.dialect == "sqlite" else COMMIT_LANES,
            envelope=envelope,
        )
        report = await _run_to_completion(fanout)
        self.last_report = report
        return report

    async def edit(
        self, refs: Sequence[MessageRef], message: RenderedMessage, context: SendContext
    ) -> SendResult:
        """An email cannot be edited: a correction with a note, or a withdrawal, is mailed as
        a short notice to the readers who received the story, threaded to their copy."""
        payload = message.payload
        if not payload.get("notice"):
            return SendResult(tuple(refs), self.core.clock(), "an email cannot be edited")
        store = self.core.store
        if store is None:
            raise self._broken("the email channel needs the store (its subscriber lists)")
        mailer = NoticeMailer(
            config=self.email,
            store=store,
            pacer=self.core.pacer,
            signer=await self._dkim(),
            delivery_id=context.delivery_id,
            article_id=context.article_id,
            unsubscribe=self._links().unsubscribe,
        )
        try:
            mailed, total = await mailer.mail(payload)
        except (SQLAlchemyError, OSError) as exc:
            raise smtp.error(
                errors.TransientDeliveryError, self.email, "notice", f"the store failed: {exc}"
            ) from exc
        what = "withdrawal" if payload.get("notice_kind") == "withdrawn" else "correction"
        note = f"{what} notice sent to {mailed} of {total} reader(s) who got the story"
        return SendResult(tuple(refs), self.core.clock(), note)

    async def delete(self, refs: Sequence[MessageRef], context: SendContext) -> None:
        raise smtp.error(
            errors.NotDeletable, self.email, "delete", "an email cannot be recalled once sent"
        )

    def _links(self) -> Links:
        try:
            links = Links(self.core.app.web)
        except ValueError as exc:
            raise self._broken(str(exc)) from exc
        if links.development_secret:
            # Unsubscribe links signed with a published secret could be forged by anybody.
            raise self._broken(
                "web.secret is the development default: set a secret of your own "
                "(e.g. ${DISTRIBUTOR_WEB_SECRET}) before mailing readers"
            )
        return links

    async def _dkim(self) -> DkimSigner | None:
        dkim = self.email.dkim
        if dkim is None:
            return None
        if self._signer is None:
            try:
                self._signer = await asyncio.to_thread(signer_for, dkim, self.email.domain)
            except DkimKeyError as exc:
                raise self._broken(str(exc)) from exc
        return self._signer

    def _secrets(self) -> tuple[str, list[str]]:
        web = self.core.app.web
        return web.secret.get_secret_value(), [s.get_secret_value() for s in web.previous_secrets]

    def _broken(self, reason: str) -> errors.ChannelBroken:
        return smtp.error(errors.ChannelBroken, self.email, "send", reason)

    def _result(self, report: Report, ref: MessageRef) -> SendResult:
        counts = report.counts
        note = _note(counts, report.total)
        if report.fatal is not None:
            raise report.fatal
        if report.retracted:
            # Done with the readers mailed so far: the ledger sees the retraction and sends
            # them the withdrawal notice next.
            note = f"stopped by the retraction after {note}"
            return SendResult(refs=(ref,), sent_at=self.core.clock(), note=note)
        left = counts.get(SendStatus.DEFERRED, 0) + counts.get(SendStatus.PENDING, 0)
        if left:
            cause = report.transient
            reason = cause.reason if cause is not None else f"{left} reader(s) deferred"
            status = cause.status if cause is not None else None
            raise smtp.error(
                errors.TransientDeliveryError,
                self.email,
                "send",
                f"{reason}; retrying later, so far {note}",
                status,
            )
        return SendResult(refs=(ref,), sent_at=self.core.clock(), note=note)


async def _run_to_completion(fanout: FanOut) -> Report:
    """Run the fan-out; if the send is cancelled, let it finish what is in flight first.

    The fan-out runs as its own task behind ``shield``: a cancellation only asks it to stop,
    so no message is ever left between "sent" in the ledger and its final "." on the wire.
    """
    task = asyncio.ensure_future(fanout.run())
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        fanout.stop()
        while not task.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(task)
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not report it as never retrieved
        raise


def _note(counts: dict[str, int], total: int) -> str:
    parts = [f"{counts.get(SendStatus.SENT, 0)} of {total} sent"]
    for status in (SendStatus.BOUNCED, SendStatus.FAILED, SendStatus.SKIPPED, SendStatus.DEFERRED):
        if counts.get(status):
            parts.append(f"{counts[status]} {status}")
    return ", ".join(parts)
