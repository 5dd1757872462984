"""Acting on bounces and complaints: record each, suppress the reader when the policy says so.

A hard bounce or a complaint suppresses at once; soft bounces once ``soft_limit`` of them came
within ``soft_days``; a mail to ``unsubscribe_mailto`` or a relay's unsubscribe event
unsubscribes. Suppressed readers keep their row (bounced or unsubscribed, with the reason in
``last_error``), so no import mails them again and ``subscribers list`` says why. A bounce
naming a story (by its Return-Path) also turns that story's ledger row for the reader from
"sent" to "bounced".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from distributor.models import Delivery
from distributor.store import Store
from distributor_channels.email.bounce_config import BounceConfig
from distributor_channels.email.bounces import Notice
from distributor_channels.email.models import (
    BounceEvent,
    BounceKind,
    EmailSend,
    SendStatus,
    Subscriber,
    SubscriberStatus,
)
from distributor_channels.email.tokens import TokenSigner

log = logging.getLogger("distributor.email.bounces")

_ACTIVE = (SubscriberStatus.PENDING, SubscriberStatus.CONFIRMED)
# A bounce that comes back after the send: the story never reached the reader. (A complaint
# means it did.)
_UNDELIVERED = (BounceKind.HARD, BounceKind.SOFT)
_DETAIL_CHARS = 500


@dataclass(frozen=True, slots=True)
class Applied:
    """What one notice did, for logs and tests."""

    subscriber_id: int | None
    kind: str
    suppressed: bool
    why: str


class Suppressor:
    def __init__(
        self,
        store: Store,
        policies: Mapping[str, BounceConfig],
        links: TokenSigner,
        source: str,
    ) -> None:
        self.store = store
        self.policies = policies  # list name -> its bounce settings
        self.links = links
        self.source = source

    async def apply(self, notice: Notice) -> list[Applied]:
        async with self.store.session() as session, session.begin():
            readers = await self._readers(session, notice)
            done = []
            for reader in readers:
                done.append(await self._one(session, reader, notice))
            if not readers:
                done.append(Applied(None, notice.kind, False, "no reader of ours"))
            return done

    async def _readers(self, session: AsyncSession, notice: Notice) -> list[Subscriber]:
        if notice.tag is not None:
            row = await session.get(Subscriber, notice.tag.subscriber_id)
            if row is None or row.list_name != notice.tag.list_name:
                return []
            if notice.recipient is not None and row.address != notice.recipient:
                return []
            return [row]
        if notice.claims is not None:
            row = await session.get(Subscriber, notice.claims.subscriber_id)
            if row is None or row.list_name != notice.claims.list_name:
                return []
            return [row] if self.links.verify(notice.claims, row.address) else []
        if notice.address is not None:
            rows = await session.scalars(
                select(Subscriber).where(
                    Subscriber.address == notice.address,
                    Subscriber.list_name.in_(notice.lists),
                )
            )
            return list(rows)
        return []

    async def _one(self, session: AsyncSession, reader: Subscriber, notice: Notice) -> Applied:
        now = self.store.clock()
        article_id = notice.tag.article_id if notice.tag is not None else None
        session.add(
            BounceEvent(
                list_name=reader.list_name,
                subscriber_id=reader.id,
                article_id=article_id,
                kind=notice.kind,
                source=self.source,
                detail=notice.detail,
                received_at=now,
            )
        )
        if notice.tag is not None and notice.kind in _UNDELIVERED:
            await self._bounced_send(session, reader, notice)
        why = notice.detail
        suppress = notice.kind != BounceKind.SOFT
        if notice.kind == BounceKind.SOFT:
            policy = self.policies.get(reader.list_name)
            limit, days = (policy.soft_limit, policy.soft_days) if policy else (3, 14)
            since = now - timedelta(days=days)
            await session.flush()
            count = await session.scalar(
                select(func.count()).where(
                    BounceEvent.subscriber_id == reader.id,
                    BounceEvent.kind == BounceKind.SOFT,
                    BounceEvent.received_at >= since,
                )
            )
            suppress = (count or 0) >= limit
            why = f"{count} soft bounces in {days} days, the last: {notice.detail}"
        if not suppress or reader.status not in _ACTIVE:
            return Applied(reader.id, notice.kind, False, why)
        if notice.kind in (BounceKind.HARD, BounceKind.SOFT):
            reader.status = SubscriberStatus.BOUNCED
            reader.bounced_at = now
            reader.last_error = f"bounced: {why}"
        else:
            reader.status = SubscriberStatus.UNSUBSCRIBED
            reader.unsubscribed_at = now
            reader.last_error = (
                "unsubscribed by mail"
                if notice.kind == BounceKind.UNSUBSCRIBE and notice.address is not None
                else why
            )
        reader.updated_at = now
        log.info("list %s: reader #%d suppressed (%s)", reader.list_name, reader.id, notice.kind)
        return Applied(reader.id, notice.kind, True, why)

    async def _bounced_send(
        self, session: AsyncSession, reader: Subscriber, notice: Notice
    ) -> None:
        """The story's ledger row of this reader: "sent" becomes "bounced" (it never arrived).

        Only a row that says "sent": one still pending or deferred is the send's business.
        """
        assert notice.tag is not None
        deliveries = select(Delivery.id).where(Delivery.article_id == notice.tag.article_id)
        await session.execute(
            update(EmailSend)
            .where(
                EmailSend.subscriber_id == reader.id,
                EmailSend.delivery_id.in_(deliveries),
                EmailSend.status == SendStatus.SENT,
            )
            .values(
                status=SendStatus.BOUNCED,
                last_error=f"bounced after the send: {notice.detail}"[:_DETAIL_CHARS],
                updated_at=self.store.clock(),
            )
        )


async def counts(store: Store, list_name: str) -> dict[str, int]:
    """Bounce, complaint and unsubscribe-by-mail events of a list, by kind."""
    async with store.session() as session:
        rows = await session.execute(
            select(BounceEvent.kind, func.count())
            .where(BounceEvent.list_name == list_name)
            .group_by(BounceEvent.kind)
        )
        found = {str(kind): int(n) for kind, n in rows.all()}
    return {kind: found.get(kind, 0) for kind in BounceKind.ALL}
