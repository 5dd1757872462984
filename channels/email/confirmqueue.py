"""The workers' side of the double opt-in: mail the queued confirmation and welcome emails.

The subscribe form only queues a row (``optin.request``), and so does the confirmation link
(``optin.confirm``, the welcome email); every ``distributor run`` worker
drains the queue of each email list it serves, through that list's own sending path: the
list's pacer budget (``rate_per_second``, shared with its stories) and one SMTP connection per
drain, with its login, TLS and DKIM. Rows are claimed with a lease (``SKIP LOCKED`` on
PostgreSQL), so workers never mail the same request twice, and a dead worker's claim is taken
over when its lease runs out. A request overtaken by a newer one, or by the reader confirming
or leaving, is skipped: its link would not work any more. A welcome email is skipped when the
reader has left before it went out.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import aiosmtplib
from sqlalchemy import or_, select, update

from distributor import errors
from distributor.adapter import AdapterContext
from distributor.store import Store
from distributor_channels.email import smtp
from distributor_channels.email.config import EmailChannelConfig
from distributor_channels.email.confirmation import ConfirmationMailer
from distributor_channels.email.dkim import DkimKeyError, DkimSigner, signer_for
from distributor_channels.email.fanout import rate_slot
from distributor_channels.email.links import Links
from distributor_channels.email.models import (
    Confirmation,
    ConfirmationStatus,
    QueuedMailKind,
    Subscriber,
    SubscriberStatus,
)
from distributor_channels.email.welcome import WelcomeMailer

log = logging.getLogger("distributor.email.confirmations")

BATCH = 50
LEASE = timedelta(seconds=120)
MAX_ATTEMPTS = 6
# 1, 2, 4, 8, 16 minutes between attempts: a confirmation is wanted soon or not at all.
BACKOFF_BASE = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class _Job:
    confirmation: Confirmation
    reader: Subscriber


class ConfirmationQueue:
    """Drains one list's queued confirmation emails."""

    def __init__(
        self,
        channel: EmailChannelConfig,
        context: AdapterContext,
        store: Store,
        owner: str,
        *,
        dry_run: bool = False,
    ) -> None:
        self.channel = channel
        self.context = context
        self.store = store
        self.owner = owner
        self.dry_run = dry_run or channel.dry_run
        self.links = Links(context.app.web)
        self.mailer = ConfirmationMailer(
            self.links, context.renderer, context.clock, context.app.labels
        )
        self.welcomes = WelcomeMailer(
            self.links, context.renderer, context.clock, context.app.labels
        )
        self._signer: DkimSigner | None = None

    async def drain(self) -> int:
        """Mail what is due now; returns how many emails went out (or into the outbox)."""
        sent = 0
        while True:
            jobs = await self._claim()
            if not jobs:
                return sent
            done, stop = await self._send_all(jobs)
            sent += done
            if stop:
                return sent

    async def _claim(self) -> list[_Job]:
        now = self.store.clock()
        due = (
            select(Confirmation.id)
            .where(
                Confirmation.list_name == self.channel.list_name,
                Confirmation.status == ConfirmationStatus.QUEUED,
                Confirmation.next_attempt_at <= now,
                or_(Confirmation.lease_expires_at.is_(None), Confirmation.lease_expires_at < now),
            )
            .order_by(Confirmation.id)
            .limit(BATCH)
        )
        if self.store.dialect == "postgresql":
            due = due.with_for_update(skip_locked=True)
        async with self.store.session() as session, session.begin():
            ids = list(await session.scalars(due))
            if not ids:
                return []
            await session.execute(
                update(Confirmation)
                .where(Confirmation.id.in_(ids))
                .values(lease_owner=self.owner, lease_expires_at=now + LEASE)
            )
            rows = await session.execute(
                select(Confirmation, Subscriber)
                .join(Subscriber, Subscriber.id == Confirmation.subscriber_id)
                .where(Confirmation.id.in_(ids))
                .order_by(Confirmation.id)
            )
            return [_Job(c, s) for c, s in rows.all()]

    async def _send_all(self, jobs: list[_Job]) -> tuple[int, bool]:
        """Send a claimed batch; returns (sent, stop draining)."""
        client: aiosmtplib.SMTP | None = None
        sent = 0
        try:
            for index, job in enumerate(jobs):
                overtaken = self._overtaken(job)
                if overtaken is not None:
                    await self._finish(job, ConfirmationStatus.SKIPPED, overtaken)
                    continue
                try:
                    data = self._build(job)
                    if self.dry_run:
                        await asyncio.to_thread(self._write, job, data)
                    else:
                        if client is None:
                            client = await self._connect()
                        await self.context.pacer.acquire([rate_slot(self.channel)])
                        await self._mail(client, job.reader.address, data)
                except errors.TemplateError as exc:
                    await self._finish(job, ConfirmationStatus.FAILED, str(exc))
                    log.error(
                        "list %s: %s email: %s", self.channel.list_name, job.confirmation.kind, exc
                    )
                    continue
                except errors.PermanentDeliveryError as exc:
                    await self._finish(job, ConfirmationStatus.FAILED, exc.reason)
                    continue
                except errors.DeliveryError as exc:
                    # Transient or a broken channel: this and the rest of the batch wait.
                    log.warning(
                        "list %s: confirmation emails wait: %s", self.channel.list_name, exc
                    )
                    for waiting in jobs[index:]:
                        await self._retry(waiting, exc.reason)
                    if client is not None:
                        client.close()
                        client = None
                    return sent, True
                await self._finish(job, ConfirmationStatus.SENT, None)
                sent += 1
        finally:
            if client is not None:
                await smtp.close_quietly(client)
        return sent, False

    @staticmethod
    def _overtaken(job: _Job) -> str | None:
        """Why the email must not go out any more, or None."""
        if job.confirmation.kind == QueuedMailKind.WELCOME:
            if job.reader.status != SubscriberStatus.CONFIRMED:
                return f"the reader is {job.reader.status} now"
            return None
        if job.reader.confirm_nonce != job.confirmation.nonce:
            return "superseded"
        return None

    def _build(self, job: _Job) -> bytes:
        if job.confirmation.kind == QueuedMailKind.WELCOME:
            return self.welcomes.build(self.channel, job.reader)
        confirmation = job.confirmation
        return self.mailer.build(
            self.channel, job.reader, confirmation.nonce, confirmation.created_at
        )

    async def _connect(self) -> aiosmtplib.SMTP:
        if self.links.development_secret:
            # With a published secret anybody could forge the link and confirm somebody else.
            raise smtp.error(
                errors.ChannelBroken,
                self.channel,
                "confirm",
                "web.secret is the development default: set a secret of your own first",
            )
        return await smtp.connect(self.channel)

    async def _mail(self, client: aiosmtplib.SMTP, address: str, data: bytes) -> None:
        if self.channel.dkim is not None:
            data = (await self._dkim()).sign(data)
        eight_bit = not data.isascii()
        options = ["BODY=8BITMIME"] if eight_bit and client.supports_extension("8bitmime") else []
        try:
            await client.sendmail(self.channel.sender, [address], data, mail_options=options)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refusal = exc.recipients[0]
            raise smtp.refused(self.channel, "recipient", refusal.code, refusal.message) from exc
        except aiosmtplib.SMTPDataError as exc:
            raise smtp.refused(self.channel, "message", exc.code, exc.message) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise smtp.failure(self.channel, "send", exc) from exc

    async def _dkim(self) -> DkimSigner:
        dkim = self.channel.dkim
        assert dkim is not None
        if self._signer is None:
            try:
                self._signer = await asyncio.to_thread(signer_for, dkim, self.channel.domain)
            except DkimKeyError as exc:
                raise smtp.error(errors.ChannelBroken, self.channel, "confirm", str(exc)) from exc
        return self._signer

    def _write(self, job: _Job, data: bytes) -> None:
        stamp = self.store.clock().strftime("%Y%m%dT%H%M%S%f")
        name = f"{job.confirmation.kind}-{job.reader.id:06d}-{stamp}.eml"
        path = Path(self.context.outbox_dir) / self.channel.name / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    async def _finish(self, job: _Job, status: str, reason: str | None) -> None:
        now = self.store.clock()
        await self._update(
            job,
            status=status,
            last_error=reason,
            sent_at=now if status == ConfirmationStatus.SENT else None,
            lease_owner=None,
            lease_expires_at=None,
            attempts=job.confirmation.attempts + 1,
        )

    async def _retry(self, job: _Job, reason: str) -> None:
        attempts = job.confirmation.attempts + 1
        if attempts >= MAX_ATTEMPTS:
            await self._finish(job, ConfirmationStatus.FAILED, reason)
            return
        delay = BACKOFF_BASE * 2 ** (attempts - 1)
        await self._update(
            job,
            attempts=attempts,
            last_error=reason,
            next_attempt_at=self.store.clock() + delay,
            lease_owner=None,
            lease_expires_at=None,
        )

    async def _update(self, job: _Job, **values: object) -> None:
        # Guarded by the lease: a worker whose claim was taken over records nothing.
        async with self.store.session() as session, session.begin():
            await session.execute(
                update(Confirmation)
                .where(
                    Confirmation.id == job.confirmation.id,
                    Confirmation.lease_owner == self.owner,
                )
                .values(**values)
            )


class ConfirmationWork:
    """Every email list's queue, for the service's background tick."""

    def __init__(self, queues: list[ConfirmationQueue]) -> None:
        self.queues = queues

    async def run_due(self) -> int:
        total = 0
        for queue in self.queues:
            try:
                total += await queue.drain()
            except Exception:  # the store is down, a bug: the next tick tries again
                log.exception("list %s: draining confirmation emails failed", queue.channel.name)
        return total

    async def aclose(self) -> None:
        return None


def background(context: AdapterContext, owner: str, dry_run: bool) -> ConfirmationWork | None:
    """The confirmation queues of the configured email lists (one per list)."""
    if context.store is None:
        return None
    queues: list[ConfirmationQueue] = []
    seen: set[str] = set()
    for channel in context.app.channels:
        if isinstance(channel, EmailChannelConfig) and channel.list_name not in seen:
            seen.add(channel.list_name)
            queue = ConfirmationQueue(channel, context, context.store, owner, dry_run=dry_run)
            queues.append(queue)
    return ConfirmationWork(queues) if queues else None
