"""Email tables: the subscribers of each list, and the per-recipient send ledgers.

A story's ledger has one row per (delivery, subscriber), a digest's one per (digest,
subscriber); the primary key is that pair, so a reader can be recorded for a mail once,
whatever crashes and retries happen.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from distributor.models import Base, UTCDateTime


class SubscriberStatus:
    PENDING = "pending"  # asked to join; receives nothing until the confirmation link is used
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"  # kept, so an import can never mail them again
    BOUNCED = "bounced"  # the server refused the address (5xx): never mailed again

    ALL = (PENDING, CONFIRMED, UNSUBSCRIBED, BOUNCED)


class SendStatus:
    PENDING = "pending"  # to be mailed by this delivery
    SENDING = "sending"  # claimed; the message's final "." has not been sent
    SENT = "sent"  # the final "." is (about to be) on the wire: never mailed again
    DEFERRED = "deferred"  # 4xx or a dropped connection before the ".": the next attempt retries
    BOUNCED = "bounced"  # 5xx for this recipient
    FAILED = "failed"  # 5xx for the message itself (content refused)
    SKIPPED = "skipped"  # unsubscribed or bounced since the send began

    DONE = (SENT, BOUNCED, FAILED, SKIPPED)


class Subscriber(Base):
    __tablename__ = "email_subscribers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    list_name: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(320))
    topics: Mapped[str] = mapped_column(String(2000), default="")
    status: Mapped[str] = mapped_column(String(16), default=SubscriberStatus.PENDING)
    source: Mapped[str] = mapped_column(String(16), default="cli")
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    confirmation_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    bounced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The latest confirmation request: only a link carrying this nonce confirms (older links,
    # and any link once the reader confirmed or left, do not). Cleared when used or on leaving.
    confirm_nonce: Mapped[str | None] = mapped_column(String(32))
    confirm_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Topics asked for by that request, applied only when the reader confirms it.
    requested_topics: Mapped[str | None] = mapped_column(String(2000))
    language: Mapped[str | None] = mapped_column(String(8))  # the reader's choice; list's if None

    __table_args__ = (
        UniqueConstraint("list_name", "address"),
        Index("ix_email_subscribers_list_status", "list_name", "status"),
    )


class ConfirmationStatus:
    QUEUED = "queued"  # waiting for a worker (``distributor run``) to mail it
    SENT = "sent"
    FAILED = "failed"  # refused for good, or out of attempts
    SKIPPED = "skipped"  # a newer request, a confirmation or an unsubscribe overtook it


class QueuedMailKind:
    CONFIRM = "confirm"  # the double opt-in email, asked for by the subscribe form
    WELCOME = "welcome"  # the welcome email, once the reader confirmed

    ALL = (CONFIRM, WELCOME)


class Confirmation(Base):
    """An email to one reader about their subscription (a confirmation request, a welcome):
    queued by the web service, mailed by the workers through the list's sending path."""

    __tablename__ = "email_confirmations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("email_subscribers.id", ondelete="CASCADE")
    )
    list_name: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str] = mapped_column(String(32))  # of the request it asks for or answered
    kind: Mapped[str] = mapped_column(
        String(16), default=QueuedMailKind.CONFIRM, server_default=QueuedMailKind.CONFIRM
    )
    status: Mapped[str] = mapped_column(String(16), default=ConfirmationStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # A worker's claim: another worker takes the row over once the lease has expired.
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_email_confirmations_due", "list_name", "status", "next_attempt_at"),
    )


class LedgerRow:
    """The columns every per-reader send ledger shares (a story's, a digest's): one row per
    (mail, reader), moving ``pending → sending → sent`` (see ``SendStatus``)."""

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("email_subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16), default=SendStatus.PENDING)
    # Which send() claimed the row: a stalled worker whose delivery was taken over cannot
    # record "sent" for a row the new owner has claimed again.
    owner: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # No index on status: each message moves its row twice, and an indexed status would make
    # every move write index entries. Without one (and with half of each page left free on
    # PostgreSQL, migration 0017), the moves stay on the row's page and touch no index. Every
    # query of a mail's rows walks the primary key, the mail's id first.


class EmailSend(LedgerRow, Base):
    """A story's ledger: one row per (delivery, reader)."""

    __tablename__ = "email_sends"

    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), primary_key=True
    )


class EmailDigestSend(LedgerRow, Base):
    """A digest's ledger: one row per (digest, reader), so a digest, which is no story and has
    no delivery, is mailed to each reader at most once like a story."""

    __tablename__ = "email_digest_sends"

    digest_id: Mapped[int] = mapped_column(
        ForeignKey("digests.id", ondelete="CASCADE"), primary_key=True
    )


class BounceKind:
    HARD = "hard"  # the address does not exist (5.x.x): suppressed at once
    SOFT = "soft"  # mailbox full, server busy (4.x.x): suppressed after N in M days
    COMPLAINT = "complaint"  # the reader marked a story as spam (ARF, SES): suppressed at once
    UNSUBSCRIBE = "unsubscribe"  # a mail to the list's unsubscribe_mailto address

    ALL = (HARD, SOFT, COMPLAINT, UNSUBSCRIBE)


class BounceEvent(Base):
    """One bounce, complaint or unsubscribe-by-mail, as it arrived: the history behind a
    suppression and the counts ``subscribers list`` shows."""

    __tablename__ = "email_bounces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    list_name: Mapped[str] = mapped_column(String(64))
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("email_subscribers.id", ondelete="CASCADE")
    )
    article_id: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))  # imap, ses
    detail: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_email_bounces_subscriber_kind", "subscriber_id", "kind", "received_at"),
        Index("ix_email_bounces_list_kind", "list_name", "kind"),
    )


class EmailNotice(Base):
    """A correction or withdrawal mail to one reader who got a story: sent once per notice.

    ``notice`` names it: ``v<version>`` for a correction, ``withdrawn`` for a retraction.
    """

    __tablename__ = "email_notices"

    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), primary_key=True
    )
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("email_subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    notice: Mapped[str] = mapped_column(String(16), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default=SendStatus.PENDING)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
