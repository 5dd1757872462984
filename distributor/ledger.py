"""The delivery ledger: routing, claiming under a lease, recording outcomes, editor actions.

This module is the only writer of a delivery's status. Each write names its
``delivery_states.Event``: the statuses it may start from and the status it sets come from
``delivery_states.ALLOWED``, so a move outside that table cannot be written.

Every write that follows a claim is guarded by ``lease_owner``: a worker whose lease was
reaped (it stalled, another took over) cannot overwrite the newer owner's record.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from distributor import delivery_states
from distributor.config import ChannelConfig
from distributor.delivery_states import (
    NO_LEASE,
    Event,
    back_to_pending,
    final_event,
    status_value,
    target,
    transition,
    where_status,
)
from distributor.hooks import events as hook_events
from distributor.hooks.events import Notice
from distributor.models import (
    Article,
    ArticleStatus,
    Delivery,
    DeliveryStatus,
    Operation,
    UTCDateTime,
)
from distributor.store import Store
from distributor.types import ArticleDraft, SendResult


@dataclass(frozen=True, slots=True)
class Reaped:
    """A delivery whose worker vanished mid-send, and what was decided for it."""

    delivery_id: int
    channel: str
    outcome: str  # "retry" or "skipped"
    in_doubt: bool
    operation: str = Operation.SEND


class Ledger:
    def __init__(self, store: Store) -> None:
        self.store = store

    # -- routing ----------------------------------------------------------------------------

    async def route_due(
        self,
        channels: Sequence[ChannelConfig],
        limit: int = 500,
        *,
        min_priority: int | None = None,
    ) -> list[int]:
        """Create one delivery per matching channel for every article whose time has come.

        The unique (article, channel) constraint, not a check-then-insert, keeps this
        idempotent when several workers route at once. ``min_priority`` routes only the
        articles at or above it (the breaking-news lane, which must not spend its time
        routing a backlog).
        """
        now = self.store.clock()
        # A digest-only channel gets no post per story: its digest lists them (``digests``).
        enabled = [c for c in channels if c.enabled and c.takes_stories]
        routed: list[int] = []
        conditions = [Article.status == ArticleStatus.QUEUED, Article.publish_at <= now]
        if min_priority is not None:
            conditions.append(Article.priority >= min_priority)
        async with self.store.session() as session, session.begin():
            articles = (
                await session.scalars(
                    select(Article)
                    .where(*conditions)
                    .order_by(Article.priority.desc(), Article.publish_at, Article.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for article in articles:
                rows = [
                    {
                        "article_id": article.id,
                        "channel": channel.name,
                        "status": delivery_states.INITIAL,
                        "operation": Operation.SEND,
                        "priority": article.priority,
                        "attempts": 0,
                        "next_attempt_at": now,
                        "refs": [],
                        "version": article.version,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for channel in enabled
                    if channel.filters.matches(article.tags, article.language, article.priority)
                ]
                if rows:
                    await session.execute(
                        self.store.insert(Delivery)
                        .values(rows)
                        .on_conflict_do_nothing(index_elements=["article_id", "channel"])
                    )
                article.status = ArticleStatus.ROUTED
                article.updated_at = now
                routed.append(article.id)
        return routed

    # -- claiming ---------------------------------------------------------------------------

    async def claim(
        self,
        owner: str,
        channels: Collection[str],
        limit: int,
        lease_seconds: float,
        *,
        min_priority: int | None = None,
    ) -> list[Delivery]:
        """Lease up to ``limit`` due deliveries of ``channels`` to ``owner``.

        ``min_priority`` claims only deliveries at or above it (the breaking-news lane).

        PostgreSQL: ``FOR UPDATE SKIP LOCKED`` lets concurrent workers take disjoint rows.
        SQLite: the single UPDATE runs under the database write lock, which serialises claims.
        """
        if not channels or limit <= 0:
            return []
        now = self.store.clock()
        # A CTE runs once. As an `IN (subquery)` PostgreSQL may rescan the locking subquery
        # inside a join, and each rescan locks another `limit` rows: one worker then takes
        # the whole queue (measured). The alias keeps it from correlating with the UPDATE.
        candidate = aliased(Delivery)
        conditions = [
            where_status(candidate.status, Event.CLAIM),
            candidate.next_attempt_at <= now,
            candidate.channel.in_(list(channels)),
        ]
        if min_priority is not None:
            conditions.append(candidate.priority >= min_priority)
        due = (
            select(candidate.id)
            .where(*conditions)
            .order_by(candidate.priority.desc(), candidate.next_attempt_at, candidate.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("due")
        )
        stmt = (
            update(Delivery)
            .where(Delivery.id == due.c.id, where_status(Delivery.status, Event.CLAIM))
            .values(
                status=target(Event.CLAIM),
                lease_owner=owner,
                lease_expires_at=now + timedelta(seconds=lease_seconds),
                attempt_started_at=None,
                updated_at=now,
            )
            .returning(Delivery)
            .execution_options(synchronize_session=False)
        )
        async with self.store.session() as session, session.begin():
            rows = list((await session.scalars(stmt)).all())
        rows.sort(key=lambda d: (-d.priority, d.next_attempt_at or now, d.id))
        return rows

    async def mark_started(self, delivery: Delivery, owner: str) -> bool:
        """Record that the platform call is about to happen (the in-doubt window opens)."""
        return await self._guarded(
            Event.START, delivery.id, owner, attempt_started_at=self.store.clock()
        )

    async def renew(self, owner: str, ids: Collection[int], lease_seconds: float) -> int:
        """Extend the leases of slow in-flight sends so nobody reaps them."""
        if not ids:
            return 0
        now = self.store.clock()
        async with self.store.session() as session, session.begin():
            result = await session.execute(
                update(Delivery)
                .where(
                    Delivery.id.in_(list(ids)),
                    Delivery.lease_owner == owner,
                    Delivery.status == DeliveryStatus.SENDING,
                )
                .values(lease_expires_at=now + timedelta(seconds=lease_seconds))
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    async def _guarded(self, event: Event, delivery_id: int, owner: str, **values: object) -> bool:
        """Apply ``event`` to a delivery this owner still holds; False when it does not."""
        return await self._write(event, delivery_id, owner, values)

    async def _write(
        self,
        event: Event,
        delivery_id: int,
        owner: str,
        values: Mapping[str, object],
        notice: Notice | None = None,
    ) -> bool:
        """``_guarded``, queueing ``notice`` for the hooks in the same transaction if written."""
        # Core, not the ORM session: this runs twice per post, it is the hot path.
        async with self.store.engine.begin() as conn:
            result = await conn.execute(
                update(Delivery)
                .where(
                    Delivery.id == delivery_id,
                    Delivery.lease_owner == owner,
                    where_status(Delivery.status, event),
                )
                .values(status=target(event), updated_at=self.store.clock(), **values)
            )
            written = bool(result.rowcount)
            if written and notice is not None:
                await self._announce(conn, notice)
            return written

    async def _announce(self, conn: AsyncConnection, notice: Notice) -> None:
        if self.store.hooks:
            now = self.store.clock()
            await hook_events.enqueue(conn, self.store.hooks, notice.event, notice.data, now)

    # -- outcomes ---------------------------------------------------------------------------

    async def record_success(
        self,
        delivery: Delivery,
        owner: str,
        result: SendResult | None,
        version: int,
        notice: Notice | None = None,
        *,
        outcome: str | None = None,
    ) -> bool:
        """Record a send, edit or delete that the platform accepted.

        ``notice`` (``delivery.sent``) is queued for the hooks in the same transaction;
        ``outcome`` says in words what a correction or retraction did on the platform.

        If the article changed (corrected, retracted) while the call was in flight, the row
        goes straight back to pending with the follow-up operation instead of resting as sent.
        That check reads the article inside the same UPDATE: one statement, one round trip.
        """
        now = self.store.clock()
        values: dict[str, object] = {
            "attempts": 0,
            "last_error": None,
            **NO_LEASE,
            "updated_at": now,
        }
        if outcome is not None:
            values["outcome"] = outcome[:200]
        if delivery.operation == Operation.DELETE:
            allowed = where_status(Delivery.status, Event.REMOVE)
            values["status"] = target(Event.REMOVE)
        else:
            article = select(Article.version, Article.status).where(
                Article.id == Delivery.article_id
            )
            retracted = article.with_only_columns(Article.status).scalar_subquery() == (
                ArticleStatus.RETRACTED
            )
            changed = article.with_only_columns(Article.version).scalar_subquery() > version
            follow_up = or_(retracted, changed)
            allowed = where_status(Delivery.status, Event.SUCCEED, Event.FOLLOW_UP)
            operation = Delivery.operation.type
            values.update(
                status=case(
                    (follow_up, status_value(Event.FOLLOW_UP)), else_=status_value(Event.SUCCEED)
                ),
                operation=case(
                    (retracted, literal(Operation.DELETE, operation)),
                    (changed, literal(Operation.EDIT, operation)),
                    else_=literal(Operation.SEND, operation),
                ),
                next_attempt_at=case(
                    (follow_up, literal(now, UTCDateTime())), else_=Delivery.next_attempt_at
                ),
                refs=[r.to_json() for r in result.refs] if result is not None else [],
                version=version,
            )
            if delivery.operation == Operation.SEND:
                values["sent_at"] = result.sent_at if result is not None else now
        async with self.store.engine.begin() as conn:
            written = await conn.execute(
                update(Delivery)
                .where(Delivery.id == delivery.id, Delivery.lease_owner == owner, allowed)
                .values(**values)
            )
            recorded = bool(written.rowcount)
            if recorded and notice is not None:
                await self._announce(conn, notice)
            return recorded

    async def record_failure(
        self,
        delivery: Delivery,
        owner: str,
        error: str,
        *,
        retry_at: datetime | None,
        final_status: DeliveryStatus = DeliveryStatus.DEAD,
        count_attempt: bool = True,
        notice: Notice | None = None,
    ) -> bool:
        """Schedule a retry at ``retry_at``, or end the delivery in ``final_status``.

        ``notice`` (``delivery.dead``…) is queued for the hooks in the same transaction.

        Raises:
            ValueError: ``final_status`` is not dead, failed or skipped.
        """
        event = Event.FAIL_RETRY if retry_at is not None else final_event(final_status)
        values = {
            "last_error": error[:2000],
            "attempts": delivery.attempts + (1 if count_attempt else 0),
            "next_attempt_at": retry_at,
            **NO_LEASE,
        }
        return await self._write(event, delivery.id, owner, values, notice)

    async def release(self, delivery: Delivery, owner: str) -> bool:
        """Give a claimed delivery back untouched (e.g. its channel got paused meanwhile)."""
        return await self._guarded(Event.RELEASE, delivery.id, owner, **NO_LEASE)

    async def postpone(self, delivery: Delivery, owner: str, until: datetime) -> bool:
        """Give a claimed delivery back untouched, due again at ``until`` (quiet hours)."""
        return await self._guarded(
            Event.RELEASE, delivery.id, owner, next_attempt_at=until, **NO_LEASE
        )

    # -- crash recovery ---------------------------------------------------------------------

    async def reap(self, policies: Mapping[str, str]) -> list[Reaped]:
        """Take back deliveries whose lease expired (their worker died or hung).

        A row whose call never started is simply retried. A row whose call had started is "in
        doubt"; ``policies`` maps channel → ``"resend"`` (retry: at-least-once) or ``"skip"``
        (at-most-once). Idempotent adapters report ``"resend"``.
        """
        now = self.store.clock()
        reaped: list[Reaped] = []
        async with self.store.session() as session, session.begin():
            rows = (
                await session.scalars(
                    select(Delivery)
                    .where(
                        where_status(Delivery.status, Event.REAP, Event.SKIP_IN_DOUBT),
                        Delivery.lease_expires_at < now,
                    )
                    .limit(1000)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for row in rows:
                in_doubt = row.attempt_started_at is not None
                # Only a new post is skipped: an edit or deletion sent twice harms nothing.
                skip = (
                    in_doubt
                    and policies.get(row.channel, "resend") == "skip"
                    and row.operation == Operation.SEND
                )
                row.lease_owner = None
                row.lease_expires_at = None
                row.attempt_started_at = None
                row.updated_at = now
                if skip:
                    row.status = transition(row.status, Event.SKIP_IN_DOUBT)
                    row.last_error = "in doubt after a crash; channel policy is to skip"
                else:
                    row.status = transition(row.status, Event.REAP)
                    row.next_attempt_at = now
                    if in_doubt:
                        row.last_error = "in doubt after a crash; resending"
                outcome = "skipped" if skip else "retry"
                reaped.append(Reaped(row.id, row.channel, outcome, in_doubt, row.operation))
        return reaped

    # -- scheduling -------------------------------------------------------------------------

    async def next_due(self, channels: Collection[str]) -> datetime | None:
        """When the next piece of work falls due: a scheduled story or a retry."""
        async with self.store.session() as session:
            article_at = await session.scalar(
                select(func.min(Article.publish_at)).where(Article.status == ArticleStatus.QUEUED)
            )
            delivery_at = None
            if channels:
                delivery_at = await session.scalar(
                    select(func.min(Delivery.next_attempt_at)).where(
                        Delivery.status == DeliveryStatus.PENDING,
                        Delivery.channel.in_(list(channels)),
                    )
                )
            lease_at = await session.scalar(
                select(func.min(Delivery.lease_expires_at)).where(
                    Delivery.status == DeliveryStatus.SENDING
                )
            )
        times = [t for t in (article_at, delivery_at, lease_at) if t is not None]
        return min(times) if times else None

    async def requeue(self, *, article_id: int | None = None, channel: str | None = None) -> int:
        """Put failed and dead deliveries back in the queue; sent ones are never touched."""
        now = self.store.clock()
        conditions: list[ColumnElement[bool]] = [where_status(Delivery.status, Event.REQUEUE)]
        if article_id is not None:
            conditions.append(Delivery.article_id == article_id)
        if channel is not None:
            conditions.append(Delivery.channel == channel)
        async with self.store.session() as session, session.begin():
            result = await session.execute(
                update(Delivery)
                .where(and_(*conditions))
                .values(**back_to_pending(Event.REQUEUE, now, keep_error=True))
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    # -- editor actions ---------------------------------------------------------------------

    async def correct(
        self, article_id: int, draft: ArticleDraft, *, notice: str | None = None
    ) -> int:
        """Store a new version of the article; every post already out is scheduled for an edit.

        ``notice`` is how the correction tells readers (``silent`` or ``note``); None keeps
        the configured default, which the dispatcher applies.

        Returns how many deliveries will be edited. Not-yet-sent deliveries simply carry the new
        version when their turn comes. One transaction: ``record_success`` compares versions.

        Raises:
            LookupError: no such article.
            ValueError: the article was retracted.
        """
        now = self.store.clock()
        async with self.store.session() as session, session.begin():
            await self.store.revise_article(session, article_id, draft, now)
            await session.execute(
                update(Article).where(Article.id == article_id).values(correction_notice=notice)
            )
            result = await session.execute(
                update(Delivery)
                .where(
                    Delivery.article_id == article_id, where_status(Delivery.status, Event.CORRECT)
                )
                .values(
                    operation=Operation.EDIT, outcome=None, **back_to_pending(Event.CORRECT, now)
                )
            )
            edits = int(result.rowcount)  # type: ignore[attr-defined]
            story = {"story_id": article_id, "title": draft.title, "url": draft.url,
                     "posts_to_edit": edits}  # fmt: skip
            await hook_events.enqueue(session, self.store.hooks, "story.corrected", story, now)
            return edits

    async def retract(self, article_id: int) -> int:
        """Withdraw a story: posts already out are deleted, the others never go out.

        Returns how many deliveries will be deleted from their platform.

        Raises:
            LookupError: no such article.
        """
        now = self.store.clock()
        async with self.store.session() as session, session.begin():
            await self.store.withdraw_article(session, article_id, now)
            # A post already out (or being edited) gets deleted ...
            result = await session.execute(
                update(Delivery)
                .where(
                    Delivery.article_id == article_id,
                    func.json_array_length(Delivery.refs) > 0,
                    where_status(Delivery.status, Event.RETRACT),
                )
                .values(
                    operation=Operation.DELETE, outcome=None, **back_to_pending(Event.RETRACT, now)
                )
            )
            # ... and one that never went out is cancelled.
            await session.execute(
                update(Delivery)
                .where(
                    Delivery.article_id == article_id,
                    Delivery.operation == Operation.SEND,
                    where_status(Delivery.status, Event.CANCEL),
                )
                .values(status=target(Event.CANCEL), updated_at=now)
            )
            deletes = int(result.rowcount)  # type: ignore[attr-defined]
            story = {"story_id": article_id, "posts_to_delete": deletes}
            await hook_events.enqueue(session, self.store.hooks, "story.retracted", story, now)
            return deletes
