"""Digests: one post per channel and window listing the stories routed to it.

A ``digests`` row per (channel, window start) is what makes each digest go out once: the
workers insert it when the window closes (a conflicting insert does nothing), then claim it
under a lease exactly like a delivery; a worker that dies mid-send leaves a row whose lease
expires and another worker takes it over. The platform's ``digest`` hook (see ``registry``)
turns the list into one post fitted to the platform; the core never imports a platform.

As for deliveries, the adapter calls ``SendContext.about_to_send()`` right before its request,
which stamps the row's ``started_at`` (only while this worker holds the lease). A row taken
over with ``started_at`` set may have been posted already: the channel's ``in_doubt`` policy
decides whether it is sent again (``resend``) or left ``in_doubt`` (``skip``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import and_, func, or_, select, update

from distributor import digest_windows, errors, registry
from distributor.config import AppConfig, ChannelConfig
from distributor.digest_windows import latest_fire, trigger
from distributor.labels import labels_for
from distributor.models import Article, ArticleStatus, DigestRun, DigestStatus
from distributor.rendering import Renderer
from distributor.send_context import SendContext
from distributor.store import Store
from distributor.summary import lead_sentences
from distributor.types import (
    DeliveryTicket,
    DigestItem,
    DigestView,
    RenderedMessage,
    SendResult,
)

if TYPE_CHECKING:
    from distributor.adapter import ChannelAdapter

log = logging.getLogger(__name__)

SUMMARY_CHARS = 200  # "one line": a digest lists stories, it does not retell them
MAX_ATTEMPTS = 8
STREAM_ROWS = 200


def digest_channels(app: AppConfig) -> list[ChannelConfig]:
    """The enabled channels that carry a digest."""
    return [c for c in app.channels if c.enabled and c.digest is not None]


def one_line(text: str) -> str:
    line = " ".join(text.split())
    if len(line) <= SUMMARY_CHARS:
        return line
    return line[: SUMMARY_CHARS - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


async def collect(
    store: Store, channel: ChannelConfig, start: datetime, end: datetime, limit: int
) -> list[DigestItem]:
    """The stories routed to ``channel`` published in [start, end): priority, then newest.

    Only the columns the channel's filters need are read, best first, and only until enough
    match; the text of a summary is read for the ``limit`` stories listed. A channel whose
    filters keep almost nothing of a busy window reads all of it (still only four columns).
    """
    query = (
        select(Article.id, Article.tags, Article.language, Article.priority)
        .where(
            Article.status == ArticleStatus.ROUTED,
            Article.publish_at >= start,
            Article.publish_at < end,
        )
        .order_by(Article.priority.desc(), Article.publish_at.desc(), Article.id.desc())
        .execution_options(yield_per=STREAM_ROWS)
    )
    async with store.session() as session:
        # The database orders the window; rows are read in batches only until the channel's
        # filters have kept ``limit`` of them, so a busy window costs a few batches.
        chosen: list[int] = []
        result = await session.stream(query)
        async for batch in result.partitions():
            for row in batch:
                if channel.filters.matches(row.tags or (), row.language, row.priority):
                    chosen.append(row.id)
            if len(chosen) >= limit:
                break
        await result.close()
        chosen = chosen[:limit]
        if not chosen:
            return []
        articles = {
            a.id: a
            for a in (await session.scalars(select(Article).where(Article.id.in_(chosen)))).all()
        }
    items: list[DigestItem] = []
    for article_id in chosen:
        article = articles[article_id]
        lead = lead_sentences(
            standfirst=article.standfirst,
            body=article.body,
            body_format=article.body_format,
            language=article.language,
            enough_chars=SUMMARY_CHARS,
        )
        items.append(
            DigestItem(
                article_id=article.id,
                title=article.title,
                url=article.url,
                summary=one_line(lead[0]) if lead else "",
                priority=article.priority,
                published_at=article.publish_at,
            )
        )
    return items


@dataclass(frozen=True, slots=True)
class DigestOutcome:
    """What one digest run did: ``status`` is a ``DigestStatus`` value."""

    channel: str
    window_start: datetime
    window_end: datetime
    status: str
    items: int
    error: str | None = None


class Digests:
    """Opens, claims and sends the digests of the configured channels."""

    def __init__(
        self,
        app: AppConfig,
        store: Store,
        adapters: Mapping[str, ChannelAdapter],
        renderer: Renderer,
        owner: str,
    ) -> None:
        self.app = app
        self.store = store
        self.adapters = adapters
        self.renderer = renderer
        self.owner = owner
        self.lease = timedelta(seconds=app.dispatch.lease_seconds)
        # As the dispatcher does: a third of the lease, so two renewals may fail before it ends.
        self.renew_every = app.dispatch.lease_seconds / 3

    # -- windows ---------------------------------------------------------------------------

    async def last_end(self, channel: str) -> datetime | None:
        async with self.store.session() as session:
            found: datetime | None = await session.scalar(
                select(func.max(DigestRun.window_end)).where(DigestRun.channel == channel)
            )
        return found

    async def _insert(self, values: dict[str, object]) -> bool:
        now = self.store.clock()
        row = {"attempts": 0, "items": 0, "refs": [], "created_at": now, "updated_at": now}
        row.update(values)
        async with self.store.session() as session, session.begin():
            result = await session.execute(
                self.store.insert(DigestRun)
                .values(row)
                .on_conflict_do_nothing(index_elements=["channel", "window_start"])
            )
        return bool(getattr(result, "rowcount", 0))

    async def open_due(self, channel: ChannelConfig) -> None:
        """Insert the row of the window that closed last, if no worker has yet."""
        assert channel.digest is not None
        now = self.store.clock()
        cron = trigger(channel.digest, self.app.zone)
        latest = latest_fire(cron, now)
        if latest is None:
            return
        last_end = await self.last_end(channel.name)
        if last_end is None:
            # The channel's first digest lists what comes after this scheduled time: a row
            # for the window before it, sent never, marks where the first window starts.
            before = latest_fire(cron, latest - timedelta(microseconds=1))
            await self._insert(
                {
                    "channel": channel.name,
                    "window_start": before or latest - timedelta(days=1),
                    "window_end": latest,
                    "status": DigestStatus.EMPTY,
                }
            )
        elif latest > last_end:
            await self._insert(
                {
                    "channel": channel.name,
                    "window_start": last_end,
                    "window_end": latest,
                    "status": DigestStatus.PENDING,
                }
            )

    async def next_window(self, channel: ChannelConfig) -> tuple[datetime, datetime | None]:
        """Where the next digest's window starts, and when it is scheduled to close."""
        assert channel.digest is not None
        cron = trigger(channel.digest, self.app.zone)
        return digest_windows.next_window(
            cron, await self.last_end(channel.name), self.store.clock()
        )

    # -- claiming --------------------------------------------------------------------------

    async def _claim(self, channel: str) -> list[DigestRun]:
        now = self.store.clock()
        claimable = or_(
            DigestRun.status == DigestStatus.PENDING,
            and_(DigestRun.status == DigestStatus.SENDING, DigestRun.lease_expires_at < now),
        )
        async with self.store.session() as session:
            ids = (
                await session.scalars(
                    select(DigestRun.id)
                    .where(DigestRun.channel == channel, claimable)
                    .order_by(DigestRun.window_start)
                )
            ).all()
        claimed: list[DigestRun] = []
        for digest_id in ids:
            # The conditional UPDATE is the claim: of two workers only one matches the row.
            async with self.store.session() as session, session.begin():
                result = await session.execute(
                    update(DigestRun)
                    .where(DigestRun.id == digest_id, claimable)
                    .values(
                        status=DigestStatus.SENDING,
                        lease_owner=self.owner,
                        lease_expires_at=now + self.lease,
                        attempts=DigestRun.attempts + 1,
                        updated_at=now,
                    )
                    .returning(DigestRun)
                )
                row = result.scalar_one_or_none()
            if row is not None:
                claimed.append(row)
        return claimed

    async def _finish(self, row: DigestRun, **values: object) -> bool:
        now = self.store.clock()
        async with self.store.session() as session, session.begin():
            result = await session.execute(
                update(DigestRun)
                .where(DigestRun.id == row.id, DigestRun.lease_owner == self.owner)
                .values(
                    lease_owner=None,
                    lease_expires_at=None,
                    started_at=None,
                    updated_at=now,
                    **values,
                )
            )
        return bool(getattr(result, "rowcount", 0))

    async def _mark_started(self, row: DigestRun) -> None:
        """The send context's hook: the platform call begins, so a crash now leaves doubt."""
        now = self.store.clock()
        async with self.store.session() as session, session.begin():
            result = await session.execute(
                update(DigestRun)
                .where(
                    DigestRun.id == row.id,
                    DigestRun.lease_owner == self.owner,
                    DigestRun.status == DigestStatus.SENDING,
                )
                .values(started_at=now, updated_at=now)
            )
        if not getattr(result, "rowcount", 0):
            raise errors.LeaseLost("another worker took this digest over", channel=row.channel)

    # -- building and sending --------------------------------------------------------------

    async def build(
        self, channel: ChannelConfig, start: datetime, end: datetime
    ) -> tuple[DigestView, RenderedMessage | None]:
        """The digest of [start, end) and its post (None: empty, and `empty: skip`)."""
        assert channel.digest is not None
        items = await collect(self.store, channel, start, end, channel.digest.max_items)
        language = channel.filters.languages[0] if channel.filters.languages else "en"
        labels = labels_for(language, self.app.labels)
        view = DigestView(
            channel=channel.name,
            title=channel.digest.title,
            window_start=start,
            window_end=end,
            items=tuple(items),
            empty_text=labels["digest_empty"],
            language=language,
            label_overrides=self.app.labels,
        )
        if not items and channel.digest.empty == "skip":
            return view, None
        return view, render_digest(channel, self.renderer, view)

    async def _send(self, channel: ChannelConfig, row: DigestRun) -> DigestOutcome:
        adapter = self.adapters.get(channel.name)
        if adapter is None:
            raise LookupError(f"channel {channel.name!r} is not open in this worker")
        # An idempotent adapter (the outbox) is never in doubt: sending again repeats nothing.
        policy = "resend" if adapter.idempotent else channel.in_doubt
        resending = row.started_at is not None
        if resending and policy == "skip":
            error = "in doubt after a crash; channel policy is to skip"
            await self._finish(row, status=DigestStatus.IN_DOUBT, last_error=error)
            return DigestOutcome(
                channel.name, row.window_start, row.window_end, "in_doubt", 0, error
            )
        try:
            view, message = await self.build(channel, row.window_start, row.window_end)
        except errors.DistributorError as exc:  # no builder, a template error: say so once
            await self._finish(row, status=DigestStatus.FAILED, last_error=str(exc))
            return DigestOutcome(
                channel.name, row.window_start, row.window_end, "failed", 0, str(exc)
            )

        def outcome(status: DigestStatus, error: str | None = None) -> DigestOutcome:
            return DigestOutcome(
                channel.name, row.window_start, row.window_end, status.value, len(view.items), error
            )

        if message is None:
            await self._finish(row, status=DigestStatus.EMPTY)
            return outcome(DigestStatus.EMPTY)
        # Article id 0 never names a story, so the key never matches a story's post.
        ticket = DeliveryTicket(
            delivery_id=row.id,
            article_id=0,
            channel=channel.name,
            version=1,
            attempt=row.attempts,
            # The title names the outbox file of a dry run: one per digest, not one for all.
            extra={"digest": row.id, "title": f"digest {row.id} {view.title}"},
        )
        context = SendContext(ticket, functools.partial(self._mark_started, row))
        try:
            result = await self._send_leased(adapter, message, context, row)
        except errors.LeaseLost as exc:  # the row is another worker's now: leave it alone
            return outcome(DigestStatus.SENDING, str(exc))
        except errors.TransientDeliveryError as exc:
            items = len(view.items)
            if exc.in_doubt and policy == "skip":
                error = f"in doubt, not resent (policy skip): {exc}"
                await self._finish(row, status=DigestStatus.IN_DOUBT, last_error=error, items=items)
                return outcome(DigestStatus.IN_DOUBT, error)
            final = row.attempts >= MAX_ATTEMPTS
            status = DigestStatus.FAILED if final else DigestStatus.PENDING
            await self._finish(row, status=status, last_error=str(exc), items=items)
            return outcome(status, str(exc))
        except errors.DeliveryError as exc:
            await self._finish(
                row, status=DigestStatus.FAILED, last_error=str(exc), items=len(view.items)
            )
            return outcome(DigestStatus.FAILED, str(exc))
        await self._finish(
            row,
            status=DigestStatus.SENT,
            items=len(view.items),
            refs=[ref.to_json() for ref in result.refs],
            sent_at=result.sent_at,
            last_error="in doubt after a crash; resent (policy resend)" if resending else None,
        )
        return outcome(DigestStatus.SENT)

    async def _send_leased(
        self,
        adapter: ChannelAdapter,
        message: RenderedMessage,
        context: SendContext,
        row: DigestRun,
    ) -> SendResult:
        """The adapter's send, with the row's lease renewed while it runs: an email digest to a
        big list takes minutes, and another worker must not take over a send that is alive."""
        renewer = asyncio.create_task(self._keep_leased(row))
        try:
            return await adapter.send(message, context)
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer

    async def _keep_leased(self, row: DigestRun) -> None:
        while True:
            await asyncio.sleep(self.renew_every)
            now = self.store.clock()
            async with self.store.session() as session, session.begin():
                await session.execute(
                    update(DigestRun)
                    .where(DigestRun.id == row.id, DigestRun.lease_owner == self.owner)
                    .values(lease_expires_at=now + self.lease, updated_at=now)
                )

    async def run_due(self) -> list[DigestOutcome]:
        """Open every closed window and send the digests this worker claims."""
        outcomes: list[DigestOutcome] = []
        for channel in digest_channels(self.app):
            if channel.name not in self.adapters:
                continue
            try:
                await self.open_due(channel)
                for row in await self._claim(channel.name):
                    outcomes.append(await self._send(channel, row))
            except errors.DistributorError:
                log.exception("digest of channel %r failed", channel.name)
        return outcomes

    async def send_now(self, channel: ChannelConfig) -> DigestOutcome:
        """Send the digest of everything since the previous one now; a new window starts."""
        start, _ = await self.next_window(channel)
        now = self.store.clock()
        if now <= start:
            raise errors.DistributorError(
                f"channel {channel.name!r}: a digest was sent at {start.isoformat()} already"
            )
        inserted = await self._insert(
            {
                "channel": channel.name,
                "window_start": start,
                "window_end": now,
                "status": DigestStatus.SENDING,
                "lease_owner": self.owner,
                "lease_expires_at": now + self.lease,
                "attempts": 1,
            }
        )
        if not inserted:
            raise errors.DistributorError(
                f"channel {channel.name!r}: the digest from {start.isoformat()} is being sent"
            )
        async with self.store.session() as session:
            row = (
                await session.scalars(
                    select(DigestRun).where(
                        DigestRun.channel == channel.name, DigestRun.window_start == start
                    )
                )
            ).one()
        return await self._send(channel, row)


def render_digest(channel: ChannelConfig, renderer: Renderer, view: DigestView) -> RenderedMessage:
    """The platform's digest post, from its ``digest`` hook."""
    spec = registry.get(channel.platform)
    if spec.digest is None:
        raise errors.DistributorError(
            f"channel {channel.name!r}: the {channel.platform} platform has no digest builder"
        )
    builder = registry.load_attribute(spec.digest)
    message: RenderedMessage = builder(channel, renderer, view)
    return message


def digest_lines(items: Sequence[DigestItem]) -> list[str]:
    """Plain text lines of a digest (for people: previews, logs)."""
    return [f"{item.title} ({item.url or 'no link'}): {item.summary}" for item in items]
