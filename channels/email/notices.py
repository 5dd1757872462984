"""Correction and withdrawal mails: a short notice to exactly the readers who got a story.

An email cannot be edited or recalled, so a correction with a note, or a retraction, tells the
readers instead. The audience is the story's per-reader ledger (``email_sends`` rows "sent");
each notice is threaded to the reader's own copy (``In-Reply-To``/``References`` its
Message-ID) and recorded per reader in ``email_notices``, so a retry mails only the readers not
yet done. A crash between the final "." and the "sent" record mails that one reader again,
under the same Message-ID, which mail clients show once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import aiosmtplib
from sqlalchemy import func, literal, select, update

from distributor import errors
from distributor.models import UTCDateTime
from distributor.pacing import Pacer
from distributor.store import Store
from distributor_channels.email import addresses, smtp
from distributor_channels.email.config import EmailChannelConfig
from distributor_channels.email.dkim import DkimSigner
from distributor_channels.email.fanout import rate_slot
from distributor_channels.email.message import POLICY, message_id, unsubscribe_header
from distributor_channels.email.models import (
    EmailNotice,
    EmailSend,
    SendStatus,
    Subscriber,
    SubscriberStatus,
)

BATCH = 200


def notice_id(original: str, kind: str) -> str:
    """The notice's Message-ID: the reader's copy's, with the notice's name added."""
    local, domain = original.strip("<>").split("@", 1)
    return f"<{local}.{kind}@{domain}>"


def build_notice(
    config: EmailChannelConfig,
    payload: Mapping[str, Any],
    *,
    article_id: int,
    subscriber_id: int,
    address: str,
    unsubscribe_url: str,
    date: datetime,
) -> bytes:
    """One reader's notice, threaded to the copy of the story that reader received.

    Raises:
        KeyError: the payload carries no notice.
    """
    original = message_id(config.list_name, config.domain, article_id, subscriber_id)
    msg = EmailMessage(policy=POLICY)
    msg["From"] = addresses.format_mailbox(config.from_address)
    msg["To"] = address
    if config.reply_to:
        msg["Reply-To"] = addresses.format_mailbox(config.reply_to)
    msg["Subject"] = str(payload["notice_subject"])
    msg["Date"] = format_datetime(date.astimezone(UTC))
    msg["Message-ID"] = notice_id(original, str(payload["notice_kind"]))
    msg["In-Reply-To"] = original
    msg["References"] = original
    msg["List-Id"] = config.list_id
    msg["List-Unsubscribe"] = unsubscribe_header(config, unsubscribe_url)
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    marker = str(payload["unsubscribe_marker"])
    text = str(payload["notice_text"]).replace(marker, unsubscribe_url)
    msg.set_content(text, cte="8bit" if not text.isascii() else "7bit")
    language = str(payload.get("language") or "")
    if language.isalpha():
        msg["Content-Language"] = language
    return msg.as_bytes()


class NoticeMailer:
    """Mails one notice of one delivery to the readers who got its story."""

    def __init__(
        self,
        *,
        config: EmailChannelConfig,
        store: Store,
        pacer: Pacer,
        signer: DkimSigner | None,
        delivery_id: int,
        article_id: int,
        unsubscribe: Callable[[str, int, str], str],
    ) -> None:
        self.config = config
        self.store = store
        self.pacer = pacer
        self.signer = signer
        self.delivery_id = delivery_id
        self.article_id = article_id
        self.unsubscribe = unsubscribe  # (list, subscriber id, address) -> URL

    async def mail(self, payload: Mapping[str, Any]) -> tuple[int, int]:
        """Mail the notice to every reader not yet done; returns (mailed, audience).

        Raises:
            errors.TransientDeliveryError: the server was unreachable or deferred a reader;
                a retry mails only the readers not yet done.
            errors.ChannelBroken: login or sender refused.
        """
        kind = str(payload["notice_kind"])
        total = await self._populate(kind)
        deferred: errors.DeliveryError | None = None
        client: aiosmtplib.SMTP | None = None
        try:
            while True:
                rows = await self._pending(kind)
                if not rows:
                    break
                for subscriber_id, address, status in rows:
                    if status != SubscriberStatus.CONFIRMED:
                        await self._record(subscriber_id, kind, SendStatus.SKIPPED, "left")
                        continue
                    data = build_notice(
                        self.config,
                        payload,
                        article_id=self.article_id,
                        subscriber_id=subscriber_id,
                        address=address,
                        unsubscribe_url=self.unsubscribe(
                            self.config.list_name, subscriber_id, address
                        ),
                        date=self.store.clock(),
                    )
                    if self.signer is not None:
                        data = self.signer.sign(data)
                    if client is None:
                        client = await smtp.connect(self.config)
                    await self.pacer.acquire([rate_slot(self.config)])
                    try:
                        await self._send(client, address, data)
                    except errors.TransientDeliveryError as exc:
                        deferred = deferred or exc
                        await self._record(subscriber_id, kind, SendStatus.DEFERRED, exc.reason)
                        continue
                    except errors.PermanentDeliveryError as exc:
                        if isinstance(exc, errors.ChannelBroken):
                            raise
                        await self._record(subscriber_id, kind, SendStatus.FAILED, exc.reason)
                        continue
                    await self._record(subscriber_id, kind, SendStatus.SENT, None)
        finally:
            if client is not None:
                await smtp.close_quietly(client)
        mailed = await self._count(kind, SendStatus.SENT)
        if deferred is not None:
            raise deferred
        return mailed, total

    async def _send(self, client: aiosmtplib.SMTP, address: str, data: bytes) -> None:
        options = ["BODY=8BITMIME"] if not data.isascii() else []
        try:
            await client.sendmail(self.config.sender, [address], data, mail_options=options)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refusal = exc.recipients[0]
            raise smtp.refused(self.config, "recipient", refusal.code, refusal.message) from exc
        except aiosmtplib.SMTPDataError as exc:
            raise smtp.refused(self.config, "message", exc.code, exc.message) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise smtp.failure(self.config, "send", exc) from exc

    async def _populate(self, kind: str) -> int:
        """Fix the audience once: the readers the story was mailed to."""
        now = self.store.clock()
        async with self.store.session() as session, session.begin():
            got_it = select(
                EmailSend.delivery_id,
                EmailSend.subscriber_id,
                literal(kind),
                literal(SendStatus.PENDING),
                literal(now, UTCDateTime()),
            ).where(EmailSend.delivery_id == self.delivery_id, EmailSend.status == SendStatus.SENT)
            await session.execute(
                self.store.insert(EmailNotice)
                .from_select(
                    ["delivery_id", "subscriber_id", "notice", "status", "updated_at"], got_it
                )
                .on_conflict_do_nothing(index_elements=["delivery_id", "subscriber_id", "notice"])
            )
            # Deferred readers of an earlier attempt are tried again.
            await session.execute(
                update(EmailNotice)
                .where(
                    EmailNotice.delivery_id == self.delivery_id,
                    EmailNotice.notice == kind,
                    EmailNotice.status.in_([SendStatus.DEFERRED, SendStatus.SENDING]),
                )
                .values(status=SendStatus.PENDING, updated_at=now)
            )
        return await self._count(kind, None)

    async def _pending(self, kind: str) -> list[tuple[int, str, str]]:
        async with self.store.session() as session:
            rows = await session.execute(
                select(Subscriber.id, Subscriber.address, Subscriber.status)
                .join(EmailNotice, EmailNotice.subscriber_id == Subscriber.id)
                .where(
                    EmailNotice.delivery_id == self.delivery_id,
                    EmailNotice.notice == kind,
                    EmailNotice.status == SendStatus.PENDING,
                )
                .order_by(Subscriber.id)
                .limit(BATCH)
            )
            return [(int(i), str(a), str(s)) for i, a, s in rows]

    async def _record(self, subscriber_id: int, kind: str, status: str, error: str | None) -> None:
        now = self.store.clock()
        values: dict[str, object] = {"status": status, "last_error": error, "updated_at": now}
        if status == SendStatus.SENT:
            values["sent_at"] = now
        async with self.store.session() as session, session.begin():
            await session.execute(
                update(EmailNotice)
                .where(
                    EmailNotice.delivery_id == self.delivery_id,
                    EmailNotice.subscriber_id == subscriber_id,
                    EmailNotice.notice == kind,
                )
                .values(**values)
            )

    async def _count(self, kind: str, status: str | None) -> int:
        conditions = [EmailNotice.delivery_id == self.delivery_id, EmailNotice.notice == kind]
        if status is not None:
            conditions.append(EmailNotice.status == status)
        async with self.store.session() as session:
            return int(await session.scalar(select(func.count()).where(*conditions)) or 0)
