"""Queries on subscribers: join, confirm, leave, bounce, list and export.

Unsubscribed and bounced readers are kept, not deleted: they are the suppression list that stops
an import (or a typo) from mailing somebody who asked to be left alone. ``forget`` deletes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update

from distributor.store import Store
from distributor_channels.email import topics as topic_codec
from distributor_channels.email.models import Subscriber, SubscriberStatus

# A pending reader who asks again within this time gets no second confirmation email.
RESEND_AFTER = timedelta(minutes=5)
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Wanted:
    """One row of an add or an import: the address, its topics (None: keep), the status asked."""

    address: str
    topics: Sequence[str] | None
    status: str = SubscriberStatus.PENDING


@dataclass(frozen=True, slots=True)
class Upserted:
    """What became of one wanted row."""

    subscriber: Subscriber
    outcome: str  # added, updated, unchanged, kept-unsubscribed, kept-bounced
    send_confirmation: bool


class Subscribers:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def get(self, subscriber_id: int) -> Subscriber | None:
        async with self.store.session() as session:
            return await session.get(Subscriber, subscriber_id)

    async def find(self, list_name: str, address: str) -> Subscriber | None:
        async with self.store.session() as session:
            return await session.scalar(
                select(Subscriber).where(
                    Subscriber.list_name == list_name, Subscriber.address == address
                )
            )

    async def upsert(
        self, list_name: str, wanted: Sequence[Wanted], *, source: str, reopen: bool
    ) -> list[Upserted]:
        """Add or update readers of ``list_name``.

        ``reopen`` lets a reader who unsubscribed or bounced come back (they asked again, or an
        admin added them by hand); an import passes False, so its old rows can never undo an
        unsubscribe.
        """
        results: list[Upserted] = []
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            results.extend(await self._upsert_chunk(list_name, chunk, source, reopen))
        return results

    async def _upsert_chunk(
        self, list_name: str, chunk: Sequence[Wanted], source: str, reopen: bool
    ) -> list[Upserted]:
        now = self.store.clock()
        async with self.store.session() as session, session.begin():
            new_rows = [
                {
                    "list_name": list_name,
                    "address": w.address,
                    "topics": topic_codec.to_column(w.topics or ()),
                    "status": w.status,
                    "source": source,
                    "created_at": now,
                    "updated_at": now,
                    "confirmed_at": now if w.status == SubscriberStatus.CONFIRMED else None,
                }
                for w in chunk
            ]
            inserted = set(
                (
                    await session.execute(
                        self.store.insert(Subscriber)
                        .values(new_rows)
                        .on_conflict_do_nothing(index_elements=["list_name", "address"])
                        .returning(Subscriber.address)
                    )
                ).scalars()
            )
            rows = {
                row.address: row
                for row in await session.scalars(
                    select(Subscriber).where(
                        Subscriber.list_name == list_name,
                        Subscriber.address.in_([w.address for w in chunk]),
                    )
                )
            }
            results = []
            for w in chunk:
                row = rows[w.address]
                if w.address in inserted:
                    pending = row.status == SubscriberStatus.PENDING
                    results.append(Upserted(row, "added", pending))
                else:
                    results.append(_update(row, w, now, reopen))
            return results

    async def mark_confirmation_sent(self, subscriber_id: int) -> None:
        await self._set(subscriber_id, confirmation_sent_at=self.store.clock())

    async def confirm(self, subscriber_id: int) -> bool:
        """Pending → confirmed. Returns False when the reader was not pending."""
        now = self.store.clock()
        return await self._transition(
            subscriber_id,
            (SubscriberStatus.PENDING,),
            status=SubscriberStatus.CONFIRMED,
            confirmed_at=now,
        )

    async def unsubscribe(self, subscriber_id: int) -> bool:
        """Stop mailing this reader at once (the next claim of a send skips them)."""
        now = self.store.clock()
        return await self._transition(
            subscriber_id,
            (SubscriberStatus.PENDING, SubscriberStatus.CONFIRMED),
            status=SubscriberStatus.UNSUBSCRIBED,
            unsubscribed_at=now,
            # A confirmation link mailed before leaving must never bring the reader back.
            confirm_nonce=None,
            requested_topics=None,
        )

    async def unsubscribe_everywhere(self, address: str) -> int:
        """The reader leaves every list this address is on; returns how many they left."""
        now = self.store.clock()
        async with self.store.session() as session, session.begin():
            result = await session.execute(
                update(Subscriber)
                .where(
                    Subscriber.address == address,
                    Subscriber.status.in_((SubscriberStatus.PENDING, SubscriberStatus.CONFIRMED)),
                )
                .values(
                    status=SubscriberStatus.UNSUBSCRIBED,
                    unsubscribed_at=now,
                    updated_at=now,
                    confirm_nonce=None,
                    requested_topics=None,
                )
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    async def set_preferences(
        self, subscriber_id: int, topics: Sequence[str], language: str | None
    ) -> None:
        """The reader's own choice of topics and language (from their signed link)."""
        await self._set(subscriber_id, topics=topic_codec.to_column(topics), language=language)

    async def remove(self, list_name: str, address: str, *, forget: bool) -> bool:
        """Unsubscribe (default) or delete the row and its send history (``forget``)."""
        row = await self.find(list_name, address)
        if row is None:
            return False
        if not forget:
            await self.unsubscribe(row.id)
            return True
        async with self.store.session() as session, session.begin():
            await session.execute(delete(Subscriber).where(Subscriber.id == row.id))
        return True

    async def listing(self, list_name: str, status: str | None = None) -> list[Subscriber]:
        query = select(Subscriber).where(Subscriber.list_name == list_name)
        if status is not None:
            query = query.where(Subscriber.status == status)
        async with self.store.session() as session:
            return list(await session.scalars(query.order_by(Subscriber.id)))

    async def counts(self, list_name: str) -> dict[str, int]:
        async with self.store.session() as session:
            rows = await session.execute(
                select(Subscriber.status, func.count())
                .where(Subscriber.list_name == list_name)
                .group_by(Subscriber.status)
            )
            return {status: int(n) for status, n in rows}

    async def _set(self, subscriber_id: int, **values: object) -> None:
        async with self.store.session() as session, session.begin():
            await session.execute(
                update(Subscriber)
                .where(Subscriber.id == subscriber_id)
                .values(updated_at=self.store.clock(), **values)
            )

    async def _transition(
        self, subscriber_id: int, from_status: Sequence[str], **values: object
    ) -> bool:
        async with self.store.session() as session, session.begin():
            result = await session.execute(
                update(Subscriber)
                .where(Subscriber.id == subscriber_id, Subscriber.status.in_(from_status))
                .values(updated_at=self.store.clock(), **values)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]


def _update(row: Subscriber, wanted: Wanted, now: datetime, reopen: bool) -> Upserted:
    """Apply one wanted row to an existing reader (inside the caller's transaction)."""
    before = (row.status, row.topics)
    left = row.status in (SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BOUNCED)
    if left and not reopen and wanted.status not in (row.status, SubscriberStatus.BOUNCED):
        return Upserted(row, f"kept-{row.status}", False)
    if wanted.topics is not None:
        row.topics = topic_codec.to_column(wanted.topics)
    if wanted.status == SubscriberStatus.PENDING:
        if row.status != SubscriberStatus.CONFIRMED:
            row.status = SubscriberStatus.PENDING
    elif wanted.status != row.status:
        row.status = wanted.status
        if wanted.status == SubscriberStatus.CONFIRMED:
            row.confirmed_at = now
        elif wanted.status == SubscriberStatus.UNSUBSCRIBED:
            row.unsubscribed_at = now
        elif wanted.status == SubscriberStatus.BOUNCED:
            row.bounced_at = now
    changed = (row.status, row.topics) != before
    if changed:
        row.updated_at = now
    recent = row.confirmation_sent_at is not None and now - row.confirmation_sent_at < RESEND_AFTER
    ask = row.status == SubscriberStatus.PENDING and (before[0] != row.status or not recent)
    return Upserted(row, "updated" if changed else "unchanged", ask)
