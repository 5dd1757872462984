"""Double opt-in requests: the subscribe form queues a confirmation, the link confirms it.

What an anonymous request may do is narrow, because anybody can type anybody's address:
- a confirmed reader is left as they are;
- a reader who left (unsubscribed, bounced) stays out: the request only queues a confirmation
  email, and they are back once they open it themselves;
- a pending reader's topics do not change: the topics asked for wait on the row
  (``requested_topics``) and apply when the reader confirms.

Each request draws a nonce kept on the row; the confirmation link carries it, so only the
latest request's link confirms, and none after it was used or the reader left.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from distributor.store import Store
from distributor_channels.email import topics as topic_codec
from distributor_channels.email.models import (
    Confirmation,
    ConfirmationStatus,
    QueuedMailKind,
    Subscriber,
    SubscriberStatus,
)

NONCE_BYTES = 12  # 96 bits, 24 hex digits

MailAllowed = Callable[[], Awaitable[bool]]


def new_nonce() -> str:
    return secrets.token_hex(NONCE_BYTES)


async def request(
    store: Store,
    list_name: str,
    address: str,
    topics: Sequence[str],
    *,
    interval: timedelta,
    mail_allowed: MailAllowed,
    language: str | None = None,
) -> bool:
    """Record a subscribe request; True when a confirmation email was queued.

    Atomic: of any number of parallel requests for one address within ``interval``, at most
    one queues an email (a conditional UPDATE decides, in the database). ``mail_allowed`` is
    asked only by that one, inside the transaction; when it says no, nothing changes.
    """
    now = store.clock()
    async with store.session() as session, session.begin():
        await session.execute(
            store.insert(Subscriber)
            .values(
                list_name=list_name,
                address=address,
                topics="",
                status=SubscriberStatus.PENDING,
                source="web",
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["list_name", "address"])
        )
        reader = await session.execute(
            select(Subscriber.id, Subscriber.status).where(
                Subscriber.list_name == list_name, Subscriber.address == address
            )
        )
        subscriber_id, status = reader.one()
        if status == SubscriberStatus.CONFIRMED:
            return False
        nonce = new_nonce()
        values: dict[str, object] = {
            "confirm_nonce": nonce,
            "confirm_requested_at": now,
            "requested_topics": topic_codec.to_column(topics),
            "updated_at": now,
        }
        if language is not None:
            values["language"] = language
        won = await session.execute(
            update(Subscriber)
            .where(
                Subscriber.id == subscriber_id,
                Subscriber.status != SubscriberStatus.CONFIRMED,
                or_(
                    Subscriber.confirm_requested_at.is_(None),
                    Subscriber.confirm_requested_at <= now - interval,
                ),
            )
            .values(**values)
        )
        if not won.rowcount or not await mail_allowed():  # type: ignore[attr-defined]
            await session.rollback()
            return False
        session.add(_queued(subscriber_id, list_name, nonce, QueuedMailKind.CONFIRM, now))
        return True


async def confirm(store: Store, subscriber_id: int, nonce: str, *, welcome: bool = False) -> bool:
    """The reader opened the latest request's link: confirmed, with the topics it asked for.

    With ``welcome``, a welcome email is queued in the same transaction (the workers mail it),
    so a confirmation queues exactly one.
    False when the row no longer holds that nonce (used already, superseded, or the reader
    left since): the link confirms nothing.
    """
    now = store.clock()
    async with store.session() as session, session.begin():
        reader = await session.get(Subscriber, subscriber_id, with_for_update=True)
        if reader is None or reader.confirm_nonce != nonce:
            return False
        if reader.requested_topics is not None:
            reader.topics = reader.requested_topics
        reader.status = SubscriberStatus.CONFIRMED
        reader.confirmed_at = now
        reader.confirm_nonce = None
        reader.requested_topics = None
        reader.updated_at = now
        if welcome:
            session.add(_queued(reader.id, reader.list_name, nonce, QueuedMailKind.WELCOME, now))
        return True


async def queue(store: Store, subscriber_id: int, list_name: str) -> None:
    """Queue a confirmation email for a reader an admin added (no limits: not anonymous)."""
    now = store.clock()
    nonce = new_nonce()
    async with store.session() as session, session.begin():
        await session.execute(
            update(Subscriber)
            .where(Subscriber.id == subscriber_id)
            .values(confirm_nonce=nonce, confirm_requested_at=now, updated_at=now)
        )
        session.add(_queued(subscriber_id, list_name, nonce, QueuedMailKind.CONFIRM, now))


def _queued(
    subscriber_id: int, list_name: str, nonce: str, kind: str, now: datetime
) -> Confirmation:
    return Confirmation(
        subscriber_id=subscriber_id,
        list_name=list_name,
        nonce=nonce,
        kind=kind,
        status=ConfirmationStatus.QUEUED,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
