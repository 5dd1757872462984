"""The dispatch loop body: route due stories, claim due deliveries, render, send, record.

No platform-specific code lives here: adapters declare what they can do (``supports_edit``,
``idempotent``…) and raise typed errors; this module decides what each outcome means.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from distributor import article_views, errors, metrics, quiet_hours, registry
from distributor.adapter import ChannelAdapter
from distributor.alerts import Alerter
from distributor.config import AppConfig
from distributor.hooks.events import Notice
from distributor.ledger import Ledger
from distributor.logs import REDACTOR
from distributor.models import Article, Delivery, DeliveryStatus, Operation
from distributor.retry import RetryPolicy
from distributor.send_context import SendContext
from distributor.store import Store
from distributor.types import DeliveryTicket, MessageRef, RenderedMessage, SendResult

log = logging.getLogger("distributor.dispatch")


def log_ids(delivery: Delivery) -> dict[str, object]:
    """A delivery's ids as log ``extra``: ``--log-format json`` prints them as fields."""
    return {
        "story_id": delivery.article_id,
        "channel": delivery.channel,
        "delivery_id": delivery.id,
        "operation": str(delivery.operation),
    }


@dataclass
class TickReport:
    routed: int = 0
    claimed: int = 0
    done: int = 0
    retrying: int = 0
    failed: int = 0
    paused: int = 0  # deliveries whose channel said it is broken (the channel is paused)

    def add(self, other: TickReport) -> None:
        self.routed += other.routed
        self.claimed += other.claimed
        self.done += other.done
        self.retrying += other.retrying
        self.failed += other.failed
        self.paused += other.paused

    @property
    def ok(self) -> bool:
        """Nothing failed, died, was skipped in doubt, or paused a channel."""
        return not (self.failed or self.paused)


class Dispatcher:
    def __init__(
        self,
        *,
        app: AppConfig,
        store: Store,
        adapters: Mapping[str, ChannelAdapter],
        owner: str,
        policy: RetryPolicy | None = None,
        alerter: Alerter | None = None,
    ) -> None:
        self.app = app
        self.store = store
        self.ledger = Ledger(store)
        self.adapters = adapters
        self.owner = owner
        dispatch = app.dispatch
        self.policy = policy or RetryPolicy(
            dispatch.backoff_base_seconds, dispatch.backoff_max_seconds, dispatch.max_attempts
        )
        self.alerter = alerter or Alerter(None, store.clock)
        self.lead = article_views.lead_cache(app)
        self.held: set[int] = set()
        self.paused: set[str] = set()
        self.stopping = False
        self._semaphore = asyncio.Semaphore(dispatch.concurrency)

    def story_channels(self) -> list[str]:
        """Channels that take stories: enabled ones, except the admins' alerts channel."""
        return [
            c.name
            for c in self.app.channels
            if c.enabled and c.name in self.adapters and c.name != self.app.alerts.channel
        ]

    async def tick(self) -> TickReport:
        """One pass: route what is due, then claim and process one batch."""
        return await self._pass(breaking=False)

    async def breaking_tick(self) -> TickReport:
        """Route what is due, then claim and send only breaking stories.

        Runs beside a ``tick`` that may hold a channel's backlog for minutes (a Telegram
        channel takes 20 posts a minute): the breaking posts do not wait for that batch, nor
        for a free place among the channels served side by side.
        """
        return await self._pass(breaking=True)

    async def _pass(self, *, breaking: bool) -> TickReport:
        report = TickReport()
        names = set(self.story_channels())
        routable = [c for c in self.app.channels if c.name in names]
        lane = self.app.dispatch.breaking_priority if breaking else None
        report.routed = len(await self.ledger.route_due(routable, min_priority=lane))
        self.paused = set(await self.store.paused_channels())
        channels = [name for name in self.story_channels() if name not in self.paused]
        if self.stopping:
            return report
        claimed = await self.ledger.claim(
            self.owner,
            channels,
            self.app.dispatch.batch_size,
            self.app.dispatch.lease_seconds,
            min_priority=lane,
        )
        report.claimed = len(claimed)
        if not claimed:
            return report
        self.held.update(d.id for d in claimed)
        articles = await self.store.articles(sorted({d.article_id for d in claimed}))
        by_channel: dict[str, list[Delivery]] = defaultdict(list)
        for delivery in claimed:
            by_channel[delivery.channel].append(delivery)
        renewer = asyncio.create_task(self._renew_leases())
        semaphore = None if breaking else self._semaphore
        try:
            await asyncio.gather(
                *(
                    self._run_channel(rows, articles, report, semaphore)
                    for rows in by_channel.values()
                )
            )
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
        return report

    async def run_until_idle(self) -> TickReport:
        """Process everything due now (``run --once``); future retries are left for later."""
        total = TickReport()
        while not self.stopping:
            report = await self.tick()
            total.add(report)
            if report.claimed == 0 and report.routed == 0:
                break
        return total

    async def _renew_leases(self) -> None:
        # Claimed rows of a slow channel wait their turn; keep every one of them leased.
        interval = self.app.dispatch.lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            if self.held:
                await self.ledger.renew(self.owner, self.held, self.app.dispatch.lease_seconds)

    async def _run_channel(
        self,
        rows: Sequence[Delivery],
        articles: Mapping[int, Article],
        report: TickReport,
        semaphore: asyncio.Semaphore | None,
    ) -> None:
        # One channel's posts go out one after another, in order; channels run side by side.
        async with semaphore or contextlib.nullcontext():
            for delivery in rows:
                try:
                    await self._process(delivery, articles.get(delivery.article_id), report)
                except Exception:
                    # Recording the outcome failed (the store): the row keeps its lease and
                    # the reaper takes it back. Stop this channel's batch; its other rows were
                    # never started, so the reaper simply retries them too.
                    log.exception(
                        "could not record delivery %s; left to the reaper",
                        delivery.id,
                        extra=log_ids(delivery),
                    )
                    report.failed += 1
                    return
                finally:
                    self.held.discard(delivery.id)

    async def _process(
        self, delivery: Delivery, article: Article | None, report: TickReport
    ) -> None:
        adapter = self.adapters[delivery.channel]
        # A channel paused by an earlier failure in this batch must not be hit again.
        if self.stopping or article is None or delivery.channel in self.paused:
            await self.ledger.release(delivery, self.owner)
            return
        quiet = quiet_hours.SEND
        if delivery.operation == Operation.SEND:
            quiet = quiet_hours.decide(
                adapter.config.quiet_hours, self.app.zone, self.store.clock(), delivery.priority
            )
        if quiet.hold_until is not None:
            # Edits and deletions ring no bell: only new posts wait for the morning.
            await self.ledger.postpone(delivery, self.owner, quiet.hold_until)
            log.info("%s: quiet hours, delivery %s held until %s", delivery.channel, delivery.id,
                     quiet.hold_until.isoformat())  # fmt: skip
            return
        reply_to = None
        if delivery.operation == Operation.SEND and article.follow_up_of is not None:
            # The original's first post on this channel; none there: a story of its own.
            found = await self.store.post_refs(article.follow_up_of, delivery.channel)
            reply_to = found[0] if found else None
        ticket = DeliveryTicket(
            delivery_id=delivery.id,
            article_id=article.id,
            channel=delivery.channel,
            version=article.version,
            attempt=delivery.attempts + 1,
            extra={"title": article.title},
            priority=delivery.priority,
            breaking=delivery.priority >= self.app.dispatch.breaking_priority,
            notify=quiet.notify,
            reply_to=reply_to,
            operation=delivery.operation,
        )
        try:
            message = None
            if delivery.operation != Operation.DELETE:
                view = article_views.article_view(article, adapter.config, self.app, self.lead)
                if delivery.operation == Operation.EDIT and self._noted(article):
                    view = dataclasses.replace(view, notice=view.labels.get("corrected"))
                message = adapter.builder.render(view)
            result, outcome = await self._call_marking_start(
                adapter, delivery, article, message, ticket
            )
        except errors.LeaseLost:
            log.warning(
                "lost the lease on delivery %s; another worker has it",
                delivery.id,
                extra=log_ids(delivery),
            )
        except errors.DeliveryError as exc:
            await self._failed(delivery, adapter, exc, report)
        except errors.TemplateError as exc:
            rejected = errors.PermanentDeliveryError(
                str(exc), channel=delivery.channel, operation="render"
            )
            await self._failed(delivery, adapter, rejected, report)
        except Exception as exc:  # a bug or an unexpected library error: retry, never crash
            log.exception(
                "unexpected error on delivery %s (%s)",
                delivery.id,
                delivery.channel,
                extra=log_ids(delivery),
            )
            unexpected = errors.TransientDeliveryError(
                f"unexpected error: {type(exc).__name__}: {exc}", channel=delivery.channel
            )
            await self._failed(delivery, adapter, unexpected, report)
        else:
            notice = None
            if delivery.operation == Operation.SEND:
                refs = [r.to_json() for r in result.refs] if result is not None else []
                links = registry.post_links(adapter.config, refs)
                notice = self._notice(
                    "delivery.sent", delivery, refs=refs, links=links, title=article.title
                )
            await self.ledger.record_success(
                delivery, self.owner, result, article.version, notice, outcome=outcome
            )
            report.done += 1
            metrics.delivery(delivery.channel, delivery.operation, "sent")
            if delivery.operation == Operation.SEND:
                posted = result.sent_at if result is not None else self.store.clock()
                waited = (posted - article.publish_at).total_seconds()
                metrics.observe(metrics.QUEUE_TO_POST_SECONDS, delivery.channel, max(0.0, waited))
            log.info(
                "%s %s: article %s v%s (%s)",
                delivery.channel,
                delivery.operation,
                article.id,
                article.version,
                outcome or (result.note if result is not None and result.note else "ok"),
                extra=log_ids(delivery),
            )

    def _noted(self, article: Article) -> bool:
        """Whether the article's latest correction ends its posts with the "Corrected" line."""
        notice = article.correction_notice or self.app.corrections.notice
        return notice == "note"

    def _withdrawal(self, article: Article, adapter: ChannelAdapter) -> RenderedMessage:
        """The post a retracted story is edited into where it cannot be deleted."""
        view = article_views.article_view(article, adapter.config, self.app, self.lead)
        withdrawn = dataclasses.replace(
            view,
            lead=(),
            url=None,
            image=None,
            promo=None,
            notice=view.labels.get("withdrawn"),
            withdrawn=True,
        )
        return adapter.builder.render(withdrawn)

    async def _call_marking_start(
        self,
        adapter: ChannelAdapter,
        delivery: Delivery,
        article: Article,
        message: RenderedMessage | None,
        ticket: DeliveryTicket,
    ) -> tuple[SendResult | None, str | None]:
        """Call the adapter; the delivery is marked started when its first request leaves.

        Returns the result and, for a correction or retraction, what it did in words. The time
        before the mark is pacing (``distributor_pacing_wait_seconds``), the time after it the
        platform call (``distributor_send_seconds``).
        """
        called = time.perf_counter()
        started: float | None = None

        async def mark() -> None:
            nonlocal started
            started = time.perf_counter()
            metrics.observe(metrics.PACING_WAIT_SECONDS, delivery.channel, started - called)
            # SendContext runs this once, however many requests the adapter makes.
            if not await self.ledger.mark_started(delivery, self.owner):
                raise errors.LeaseLost(
                    "another worker took this delivery over", channel=delivery.channel
                )

        try:
            return await self._call(adapter, delivery, article, message, SendContext(ticket, mark))
        finally:
            # An adapter that never marks (the outbox: never in doubt) is timed from the call.
            elapsed = time.perf_counter() - (started if started is not None else called)
            metrics.observe(metrics.SEND_SECONDS, delivery.channel, elapsed)

    async def _call(
        self,
        adapter: ChannelAdapter,
        delivery: Delivery,
        article: Article,
        message: RenderedMessage | None,
        context: SendContext,
    ) -> tuple[SendResult | None, str | None]:
        refs = [MessageRef.from_json(r) for r in delivery.refs]
        if delivery.operation == Operation.SEND:
            assert message is not None
            sent = await adapter.send(message, context)
            return sent, sent.outcome
        if delivery.operation == Operation.EDIT:
            assert message is not None
            return await self._edit(adapter, refs, message, context, self._noted(article))
        return await self._retract(adapter, refs, article, context)

    async def _edit(
        self,
        adapter: ChannelAdapter,
        refs: list[MessageRef],
        message: RenderedMessage,
        context: SendContext,
        noted: bool,
    ) -> tuple[SendResult, str]:
        if adapter.supports_edit:
            result = await adapter.edit(refs, message, context)
            return result, "edited, with the correction note" if noted else "edited"
        if adapter.sends_notices and noted:
            result = await adapter.edit(refs, message, context)
            return result, result.note or "correction notice sent"
        why = "nothing possible: the platform cannot edit a post"
        return SendResult(tuple(refs), self.store.clock(), "platform cannot edit"), why

    async def _retract(
        self,
        adapter: ChannelAdapter,
        refs: list[MessageRef],
        article: Article,
        context: SendContext,
    ) -> tuple[SendResult | None, str]:
        """Delete the posts; where the platform refuses, edit them into the withdrawal notice
        (or mail it to the readers who got the story)."""
        refused: errors.NotDeletable | None = None
        if adapter.supports_delete:
            try:
                await adapter.delete(refs, context)
            except errors.MessageNotFound:  # already gone: what a retraction wants
                return None, "already gone"
            except errors.NotDeletable as exc:
                refused = exc
            else:
                return None, "deleted"
        if not (adapter.supports_edit or adapter.sends_notices):
            reason = refused.reason if refused is not None else "the platform cannot delete"
            return None, f"nothing possible: {reason}"
        notice = self._withdrawal(article, adapter)
        try:
            result = await adapter.edit(refs, notice, context)
        except errors.MessageNotFound:
            return None, "already gone"
        if adapter.supports_edit:
            return result, "edited into the withdrawal notice"
        return result, result.note or "withdrawal notice sent"

    def _notice(self, event: str, delivery: Delivery, **data: object) -> Notice | None:
        """The hook event an outcome announces; the ledger writes it with the outcome."""
        if not self.app.hooks:
            return None
        body = {"story_id": delivery.article_id, "channel": delivery.channel,
                "delivery_id": delivery.id, **data}  # fmt: skip
        return Notice(event, body)

    async def _failed(
        self,
        delivery: Delivery,
        adapter: ChannelAdapter,
        exc: errors.DeliveryError,
        report: TickReport,
    ) -> None:
        reason = REDACTOR.scrub(str(exc))
        now = self.store.clock()
        channel = adapter.config
        if isinstance(exc, errors.RateLimited):
            metrics.count(metrics.RATE_LIMITED, delivery.channel)
        if isinstance(exc, errors.ChannelBroken):
            # The pause first: were it lost, the delivery would be due again at once and be
            # sent on to the broken channel over and over. If pausing fails, the delivery
            # keeps its lease and the reaper brings it back to try (and pause) again.
            notice = self._notice("channel.paused", delivery, reason=reason)
            paused_now = await self.store.pause_channel(delivery.channel, reason, notice)
            self.paused.add(delivery.channel)
            metrics.delivery(delivery.channel, delivery.operation, "retried")
            await self.ledger.record_failure(
                delivery, self.owner, reason, retry_at=now, count_attempt=False
            )
            report.retrying += 1
            report.paused += 1
            if paused_now:
                await self.alerter.notify(f"channel {delivery.channel} paused", reason)
            return
        in_doubt = isinstance(exc, errors.TransientDeliveryError) and exc.in_doubt
        if (
            in_doubt
            and not adapter.idempotent
            and channel.in_doubt == "skip"
            and delivery.operation == Operation.SEND
        ):
            await self.ledger.record_failure(
                delivery,
                self.owner,
                f"in doubt, not resent (policy skip): {reason}",
                retry_at=None,
                final_status=DeliveryStatus.SKIPPED,
            )
            report.failed += 1
            metrics.delivery(delivery.channel, delivery.operation, "skipped")
            return
        policy = self.policy
        if channel.max_attempts is not None and channel.max_attempts != policy.max_attempts:
            policy = RetryPolicy(
                policy.base_seconds, policy.max_seconds, channel.max_attempts, policy.rng
            )
        retry_at = policy.next_attempt(exc, delivery.attempts, now)
        if retry_at is not None:
            await self.ledger.record_failure(
                delivery,
                self.owner,
                reason,
                retry_at=retry_at,
                count_attempt=not isinstance(exc, errors.RateLimited),
            )
            report.retrying += 1
            metrics.delivery(delivery.channel, delivery.operation, "retried")
            log.info(
                "%s: will retry at %s: %s",
                delivery.channel,
                retry_at.isoformat(),
                reason,
                extra=log_ids(delivery),
            )
            return
        final = DeliveryStatus.DEAD if exc.retryable else DeliveryStatus.FAILED
        await self.ledger.record_failure(
            delivery,
            self.owner,
            reason,
            retry_at=None,
            final_status=final,
            notice=self._notice(f"delivery.{final}", delivery, reason=reason),
        )
        report.failed += 1
        metrics.delivery(delivery.channel, delivery.operation, str(final))
        log.warning("%s: delivery %s %s: %s", delivery.channel, delivery.id, final, reason,
                    extra=log_ids(delivery))  # fmt: skip
        await self.alerter.notify(
            f"delivery {delivery.id} {final}",
            f"article {delivery.article_id} on {delivery.channel}: {reason}",
        )
