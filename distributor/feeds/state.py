"""What each feed served and where it stands: leases, items seen, status and alerts.

Every write that follows a claim is guarded by ``lease_owner``, as deliveries' are: a worker
whose lease ran out (it stalled, another took the feed over) cannot overwrite the newer owner's
record. An item is recorded by INSERT … ON CONFLICT DO NOTHING on the unique (feed, item key):
of two workers that see one new item, exactly one gets the row back, and only that one queues.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import aliased

from distributor.feeds.models import FeedState, FeedStatus, ItemDisposition, SeenItem
from distributor.store import Store

# -- the status machine ----------------------------------------------------------------------


class FeedEvent(enum.StrEnum):
    """The outcome of one poll, as far as the feed's status is concerned."""

    SUCCEED = "succeed"  # a feed (or a 304) came back and was read
    FAIL = "fail"  # failed, fewer times in a row than the alert threshold
    BREAK = "break"  # failed, and the failures in a row reached the threshold


class AlertKind(enum.StrEnum):
    BROKEN = "broken"
    RECOVERED = "recovered"


_S = FeedStatus
TRANSITIONS: Mapping[tuple[FeedStatus, FeedEvent], FeedStatus] = MappingProxyType(
    {
        (_S.NEW, FeedEvent.SUCCEED): _S.OK,
        (_S.NEW, FeedEvent.FAIL): _S.FAILING,
        (_S.NEW, FeedEvent.BREAK): _S.BROKEN,
        (_S.OK, FeedEvent.SUCCEED): _S.OK,
        (_S.OK, FeedEvent.FAIL): _S.FAILING,
        (_S.OK, FeedEvent.BREAK): _S.BROKEN,  # a threshold of 1
        (_S.FAILING, FeedEvent.SUCCEED): _S.OK,
        (_S.FAILING, FeedEvent.FAIL): _S.FAILING,
        (_S.FAILING, FeedEvent.BREAK): _S.BROKEN,
        (_S.BROKEN, FeedEvent.SUCCEED): _S.OK,
        (_S.BROKEN, FeedEvent.BREAK): _S.BROKEN,  # still broken: told once already
    }
)
# The admins hear of a feed when it breaks and when it comes back, never in between.
ALERTS: Mapping[tuple[FeedStatus, FeedStatus], AlertKind] = MappingProxyType(
    {
        (_S.NEW, _S.BROKEN): AlertKind.BROKEN,
        (_S.OK, _S.BROKEN): AlertKind.BROKEN,
        (_S.FAILING, _S.BROKEN): AlertKind.BROKEN,
        (_S.BROKEN, _S.OK): AlertKind.RECOVERED,
    }
)


def failure_event(status: FeedStatus, failures: int, threshold: int) -> FeedEvent:
    """A failure, ``failures`` in a row with this one, against the alert threshold.

    A broken feed stays broken until it works again, even if the threshold was raised since.
    """
    if status == FeedStatus.BROKEN or failures >= threshold:
        return FeedEvent.BREAK
    return FeedEvent.FAIL


def transition(status: FeedStatus, event: FeedEvent) -> FeedStatus:
    """The status ``event`` leads to.

    Raises:
        ValueError: the table has no such move.
    """
    try:
        return TRANSITIONS[(status, event)]
    except KeyError:
        raise ValueError(f"a {status} feed cannot {event}") from None


def alert_for(before: FeedStatus, after: FeedStatus) -> AlertKind | None:
    return ALERTS.get((before, after))


# -- the store --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Seen:
    """What the history holds for one item key."""

    content_hash: str
    disposition: ItemDisposition
    article_id: int | None


@dataclass(frozen=True, slots=True)
class NewItem:
    key: str
    content_hash: str
    disposition: ItemDisposition


class FeedLedger:
    """Feed rows and feed items in the store; short transactions, times from the store's clock."""

    # Rows per INSERT: well under SQLite's bound-parameter limit, one round trip per feed.
    CHUNK = 200

    def __init__(self, store: Store) -> None:
        self.store = store

    async def ensure(self, names: Collection[str]) -> None:
        """Create the rows of configured feeds not polled before: due at once, status new."""
        if not names:
            return
        now = self.store.clock()
        rows = [
            {
                "name": name,
                "status": FeedStatus.NEW,
                "next_poll_at": now,
                "consecutive_failures": 0,
                "items_seen": 0,
                "alerted": False,
                "created_at": now,
                "updated_at": now,
            }
            for name in sorted(set(names))
        ]
        async with self.store.session() as session, session.begin():
            for start in range(0, len(rows), self.CHUNK):
                await session.execute(
                    self.store.insert(FeedState)
                    .values(rows[start : start + self.CHUNK])
                    .on_conflict_do_nothing(index_elements=["name"])
                )

    async def claim_due(
        self, owner: str, names: Collection[str], limit: int, lease_seconds: float
    ) -> list[FeedState]:
        """Lease up to ``limit`` due feeds among ``names`` to ``owner``, most overdue first.

        PostgreSQL: ``FOR UPDATE SKIP LOCKED`` gives concurrent workers disjoint feeds.
        SQLite: the single UPDATE runs under the database write lock.
        """
        if not names or limit <= 0:
            return []
        now = self.store.clock()
        candidate = aliased(FeedState)
        due = (
            select(candidate.name)
            .where(
                candidate.name.in_(list(names)),
                candidate.next_poll_at <= now,
                or_(candidate.lease_owner.is_(None), candidate.lease_expires_at < now),
            )
            .order_by(candidate.next_poll_at, candidate.name)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("due")
        )
        return await self._lease(FeedState.name == due.c.name, owner, now, lease_seconds)

    async def claim(self, owner: str, name: str, lease_seconds: float) -> FeedState | None:
        """Lease ``name`` now, due or not; None while another worker holds it."""
        now = self.store.clock()
        claimed = await self._lease(FeedState.name == name, owner, now, lease_seconds)
        return claimed[0] if claimed else None

    async def _lease(
        self, which: Any, owner: str, now: datetime, lease_seconds: float
    ) -> list[FeedState]:
        free = or_(
            FeedState.lease_owner.is_(None),
            FeedState.lease_expires_at < now,
            FeedState.lease_owner == owner,
        )
        stmt = (
            update(FeedState)
            .where(which, free)
            .values(
                lease_owner=owner,
                lease_expires_at=now + timedelta(seconds=lease_seconds),
                updated_at=now,
            )
            .returning(FeedState)
            .execution_options(synchronize_session=False)
        )
        async with self.store.session() as session, session.begin():
            rows = list((await session.scalars(stmt)).all())
        rows.sort(key=lambda f: (f.next_poll_at, f.name))
        return rows

    async def renew(self, owner: str, name: str, lease_seconds: float) -> bool:
        """Extend a lease during a long poll (many article pages to fetch)."""
        now = self.store.clock()
        async with self.store.engine.begin() as conn:
            result = await conn.execute(
                update(FeedState)
                .where(FeedState.name == name, FeedState.lease_owner == owner)
                .values(lease_expires_at=now + timedelta(seconds=lease_seconds))
            )
            return bool(result.rowcount)

    async def finish(self, owner: str, name: str, **values: Any) -> bool:
        """Record a poll and give the lease back; False when ``owner`` no longer holds it."""
        async with self.store.engine.begin() as conn:
            result = await conn.execute(
                update(FeedState)
                .where(FeedState.name == name, FeedState.lease_owner == owner)
                .values(
                    lease_owner=None,
                    lease_expires_at=None,
                    updated_at=self.store.clock(),
                    **values,
                )
            )
            return bool(result.rowcount)

    async def get(self, name: str) -> FeedState | None:
        async with self.store.session() as session:
            return await session.get(FeedState, name)

    async def names(self) -> set[str]:
        async with self.store.session() as session:
            return set(await session.scalars(select(FeedState.name)))

    async def all(self) -> list[FeedState]:
        async with self.store.session() as session:
            return list(await session.scalars(select(FeedState).order_by(FeedState.name)))

    # -- items --------------------------------------------------------------------------------

    async def seen(self, feed: str, keys: Sequence[str]) -> dict[str, Seen]:
        """The history of those of ``keys`` this feed served before."""
        found: dict[str, Seen] = {}
        async with self.store.session() as session:
            for start in range(0, len(keys), self.CHUNK):
                rows = await session.execute(
                    select(
                        SeenItem.item_key,
                        SeenItem.content_hash,
                        SeenItem.disposition,
                        SeenItem.article_id,
                    ).where(
                        SeenItem.feed == feed,
                        SeenItem.item_key.in_(list(keys[start : start + self.CHUNK])),
                    )
                )
                for key, content_hash, disposition, article_id in rows:
                    found[key] = Seen(content_hash, disposition, article_id)
        return found

    async def record(self, feed: str, items: Sequence[NewItem]) -> set[str]:
        """Insert the items not recorded yet; returns the keys this call inserted.

        Insert-or-ignore on the unique (feed, item key), never check-then-insert: of several
        workers recording one item, exactly one gets its key back.
        """
        now = self.store.clock()
        inserted: set[str] = set()
        rows = [
            {
                "feed": feed,
                "item_key": item.key,
                "content_hash": item.content_hash,
                "disposition": item.disposition,
                "first_seen_at": now,
                "updated_at": now,
            }
            # One order for every worker: two inserting the same keys never deadlock.
            for item in sorted(items, key=lambda i: i.key)
        ]
        async with self.store.session() as session, session.begin():
            for start in range(0, len(rows), self.CHUNK):
                stmt = (
                    self.store.insert(SeenItem)
                    .values(rows[start : start + self.CHUNK])
                    .on_conflict_do_nothing(index_elements=["feed", "item_key"])
                    .returning(SeenItem.item_key)
                )
                inserted.update((await session.scalars(stmt)).all())
        return inserted

    async def mark_queued(self, feed: str, key: str, article_id: int) -> None:
        async with self.store.engine.begin() as conn:
            await conn.execute(
                update(SeenItem)
                .where(SeenItem.feed == feed, SeenItem.item_key == key)
                .values(
                    disposition=ItemDisposition.QUEUED,
                    article_id=article_id,
                    updated_at=self.store.clock(),
                )
            )

    async def changed(self, feed: str, key: str, old_hash: str, new_hash: str) -> bool:
        """Record an item's new content; True for the one caller that moved it from ``old_hash``.

        Compare-and-set, so a change is acted on (corrected) once, whoever else saw it.
        """
        async with self.store.engine.begin() as conn:
            result = await conn.execute(
                update(SeenItem)
                .where(
                    and_(
                        SeenItem.feed == feed,
                        SeenItem.item_key == key,
                        SeenItem.content_hash == old_hash,
                    )
                )
                .values(content_hash=new_hash, updated_at=self.store.clock())
            )
            return bool(result.rowcount)

    async def items(self, feed: str) -> list[SeenItem]:
        async with self.store.session() as session:
            rows = await session.scalars(
                select(SeenItem).where(SeenItem.feed == feed).order_by(SeenItem.id)
            )
            return list(rows)
