"""The running service: store, adapters, dispatcher, and APScheduler owning time.

APScheduler jobs never do the work themselves: they set the wake event (the periodic safety
tick, the next scheduled story or retry, lease reaping). Queueing a story wakes the loop at
once — in process through the same event, across processes through PostgreSQL
``LISTEN/NOTIFY`` or, on SQLite, by watching the database's ``data_version``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, timedelta
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from distributor import adapter_factory, metrics, ops_web, wakeup
from distributor.adapter import AdapterContext, BackgroundWork, ChannelAdapter, ProgressSink
from distributor.alerts import Alerter
from distributor.clock import Clock, utcnow
from distributor.configload import LoadedConfig
from distributor.digests import DigestOutcome, Digests, digest_channels
from distributor.dispatch import Dispatcher, TickReport
from distributor.feeds import poller as feed_poller
from distributor.feeds.fetch import FeedClient
from distributor.health import Heartbeat
from distributor.hooks.sender import HookSender
from distributor.ledger import Ledger
from distributor.pacing import Pacer
from distributor.store import Queued, Store
from distributor.types import ArticleDraft

log = logging.getLogger("distributor.service")

# How often the scheduler asks which feeds are due (each feed keeps its own interval): a feed is
# polled at most this late. Asking is one indexed query. The jitter keeps workers started
# together from asking together.
FEED_TICK_SECONDS = 5.0
FEED_TICK_JITTER_SECONDS = 1.0
# How often platforms' own queues are looked at (email's confirmation emails): a reader who
# just subscribed waits about this long for the email.
BACKGROUND_TICK_SECONDS = 2.0
# How often due hook events are posted: events are notices, a second or two late is fine.
HOOKS_TICK_SECONDS = 1.0
HOOKS_BATCH = 100
# How often workers look for a closed digest window: a digest goes out at most this late.
DIGEST_TICK_SECONDS = 15.0


@dataclass(frozen=True)
class _Running:
    """What ``start`` opened; ``resources`` closes all of it, in reverse order."""

    store: Store
    adapters: dict[str, ChannelAdapter]
    dispatcher: Dispatcher
    resources: contextlib.AsyncExitStack
    feed_client: FeedClient
    background: list[BackgroundWork]
    hooks: HookSender | None
    digests: Digests | None = None


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Service:
    """Everything ``distributor run`` needs, opened in ``start`` and released in ``close``."""

    def __init__(
        self,
        loaded: LoadedConfig,
        *,
        dry_run: bool = False,
        clock: Clock = utcnow,
        workdir: Path | None = None,
        progress: ProgressSink | None = None,
        metrics_port: int | None = None,
    ) -> None:
        self.loaded = loaded
        self.app = loaded.app
        self.dry_run = dry_run
        self.clock = clock
        self.workdir = workdir or Path.cwd()
        self.progress = progress
        self.owner = worker_id()
        self.wake = asyncio.Event()
        self.heartbeat = Heartbeat(self.app.dispatch.tick_seconds, clock)
        self.metrics_port = metrics_port
        self.metrics_address: tuple[str, int] | None = None  # where run_forever serves them
        self._running: _Running | None = None

    async def start(self) -> Dispatcher:
        """Open the store, the pacer and every adapter; if any of them fails, close the rest."""
        metrics.set_counting(self.app.metrics is None or self.app.metrics.counting)
        async with contextlib.AsyncExitStack() as stack:
            store = await Store.open(self.app.store, clock=self.clock)
            store.hooks = self.app.hooks
            stack.push_async_callback(store.close)
            feed_client = FeedClient(clock=self.clock)
            stack.push_async_callback(feed_client.aclose)
            redis_url = self.app.redis.url.get_secret_value() if self.app.redis else None
            pacer = Pacer.for_redis(redis_url)
            stack.push_async_callback(pacer.aclose)
            context = AdapterContext(
                app=self.app,
                renderer=self.loaded.renderer(),
                clock=self.clock,
                outbox_dir=adapter_factory.outbox_dir(self.app, self.workdir),
                pacer=pacer,
                store=store,
                progress=self.progress,
            )
            adapters = adapter_factory.build_adapters(self.app, context, dry_run=self.dry_run)
            for adapter in adapters.values():
                # Registered before start: a half-started adapter is closed too.
                stack.push_async_callback(adapter.aclose)
                await adapter.start()
            background = adapter_factory.build_background(
                self.app, context, self.owner, dry_run=self.dry_run
            )
            for work in background:
                stack.push_async_callback(work.aclose)
            hooks = None
            if self.app.hooks:
                dispatch = self.app.dispatch
                hooks = HookSender(
                    store,
                    self.app.hooks,
                    self.owner,
                    backoff_base_seconds=dispatch.backoff_base_seconds,
                    backoff_max_seconds=dispatch.backoff_max_seconds,
                    lease_seconds=dispatch.lease_seconds,
                )
                stack.push_async_callback(hooks.aclose)
            alerts = self.app.alerts.channel
            dispatcher = Dispatcher(
                app=self.app,
                store=store,
                adapters=adapters,
                owner=self.owner,
                alerter=Alerter(adapters.get(alerts) if alerts else None, self.clock),
            )
            self._running = _Running(
                store,
                adapters,
                dispatcher,
                stack.pop_all(),
                feed_client=feed_client,
                background=background,
                hooks=hooks,
                digests=Digests(self.app, store, adapters, context.renderer, self.owner),
            )
        return dispatcher

    async def close(self) -> None:
        running, self._running = self._running, None
        if running is not None:
            await running.resources.aclose()

    def _started(self) -> _Running:
        if self._running is None:
            raise RuntimeError("the service is not started")
        return self._running

    async def run_once(self) -> TickReport:
        dispatcher = await self.start()
        try:
            await self._reap()
            await self.poll_feeds()  # what the feeds have new goes out in this run too
            await self.run_background()
            report = await dispatcher.run_until_idle()
            await self.send_digests()
            await self.send_hooks()
            return report
        finally:
            await self.close()

    async def run_forever(self, stop: asyncio.Event) -> TickReport:
        """Serve until ``stop`` is set; the batch in flight finishes and is recorded."""
        dispatcher = await self.start()
        try:
            async with contextlib.AsyncExitStack() as stack:
                await self._serve_metrics(stack)
                return await self._serve(stop, dispatcher)
        finally:
            await self.close()

    async def _serve_metrics(self, stack: contextlib.AsyncExitStack) -> None:
        settings = self.app.metrics
        if settings is None and self.metrics_port is None:
            return
        host = settings.host if settings is not None else "127.0.0.1"
        port = self.metrics_port
        if port is None:
            port = settings.port if settings is not None else 0
        channels = [c.name for c in self.app.channels]
        endpoints = ops_web.OpsEndpoints(self._started().store, channels, self.heartbeat)
        self.metrics_address = await stack.enter_async_context(ops_web.serve(endpoints, host, port))
        log.info("metrics and health probes on http://%s:%d", *self.metrics_address)

    async def _serve(self, stop: asyncio.Event, dispatcher: Dispatcher) -> TickReport:
        total = TickReport()
        scheduler = AsyncIOScheduler(timezone=UTC)
        self.heartbeat.beat()
        scheduler.add_job(self._tick, "interval", seconds=self.app.dispatch.tick_seconds, id="tick")
        if self.app.feeds:
            scheduler.add_job(
                self.poll_feeds,
                "interval",
                seconds=FEED_TICK_SECONDS,
                jitter=FEED_TICK_JITTER_SECONDS,
                id="feeds",
                max_instances=1,  # a long poll is never overlapped by the next tick
                coalesce=True,
                next_run_time=self.clock(),  # the first poll right away
            )
        if self._started().background:
            scheduler.add_job(
                self.run_background,
                "interval",
                seconds=BACKGROUND_TICK_SECONDS,
                id="background",
                max_instances=1,
                coalesce=True,
                next_run_time=self.clock(),
            )
        if digest_channels(self.app):
            scheduler.add_job(
                self.send_digests,
                "interval",
                seconds=DIGEST_TICK_SECONDS,
                id="digests",
                max_instances=1,
                coalesce=True,
                next_run_time=self.clock(),  # a digest missed while down goes out at once
            )
        scheduler.add_job(
            self._reap, "interval", seconds=self.app.dispatch.lease_seconds / 2, id="reap"
        )
        if self.app.hooks:
            scheduler.add_job(
                self.send_hooks,
                "interval",
                seconds=HOOKS_TICK_SECONDS,
                id="hooks",
                max_instances=1,  # a slow receiver is never posted to by two ticks at once
                coalesce=True,
            )
        scheduler.start()
        listener = asyncio.create_task(wakeup.listen(self._started().store, self.wake, stop))
        stopper = asyncio.create_task(_stop_when(stop, dispatcher))
        self.wake.set()
        try:
            while not stop.is_set():
                await _first(self.wake.wait(), stop.wait())
                if stop.is_set():
                    break
                self.wake.clear()
                report = await self._tick_with_breaking_lane(dispatcher, stop)
                total.add(report)
                if report.claimed or report.routed:
                    self.wake.set()  # there may be more: go again without waiting
                else:
                    await self._schedule_next(scheduler)
        finally:
            dispatcher.stopping = True
            scheduler.shutdown(wait=False)
            for task in (listener, stopper):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        return total

    async def _tick_with_breaking_lane(
        self, dispatcher: Dispatcher, stop: asyncio.Event
    ) -> TickReport:
        """One tick; whatever wakes the loop meanwhile runs a breaking-news pass beside it.

        A tick can hold a rate-limited channel's batch for minutes. A breaking story queued
        meanwhile is routed and sent at once by the breaking pass; anything else waits for
        the next tick, which the service starts as soon as this one ends (a tick that did
        work always asks for another).
        """
        total = TickReport()
        tick = asyncio.create_task(dispatcher.tick())
        try:
            while not tick.done():
                await _first_or_done(tick, self.wake.wait(), stop.wait())
                if tick.done() or stop.is_set():
                    break
                self.wake.clear()
                total.add(await dispatcher.breaking_tick())
            total.add(await tick)  # on stop: the batch in flight finishes and is recorded
        finally:
            if not tick.done():  # cancelled from outside: do not leave the tick running
                tick.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await tick
        return total

    async def _schedule_next(self, scheduler: AsyncIOScheduler) -> None:
        dispatcher = self._started().dispatcher
        due = await dispatcher.ledger.next_due(dispatcher.story_channels())
        if due is None:
            return
        # Never in the past, and a hair late rather than early so the work is really due.
        run_at = max(due, self.clock()) + timedelta(milliseconds=5)
        scheduler.add_job(self._wake, "date", run_date=run_at, id="next-due", replace_existing=True)

    async def _tick(self) -> None:
        # The scheduler's own pulse: /readyz turns unready when it stops (see health).
        self.heartbeat.beat()
        metrics.count(metrics.SCHEDULER_TICKS)
        self.wake.set()

    async def _wake(self) -> None:
        # A coroutine, so APScheduler runs it on the event loop: asyncio.Event is not
        # thread-safe, and a plain function would run in the scheduler's thread pool.
        self.wake.set()

    async def send_hooks(self) -> int:
        """Post the events due to the hooks' receivers; how many were posted."""
        if self._running is None or self._running.hooks is None:
            return 0
        posted = 0
        try:
            # Full batches mean more is due; a short one ends the pass (its failures wait
            # for their backoff, not for this loop).
            while (batch := await self._running.hooks.run_due(HOOKS_BATCH)) > 0:
                posted += batch
                if batch < HOOKS_BATCH:
                    break
        except Exception:  # the store is down: the next tick tries again
            log.exception("sending the hook events failed")
        return posted

    async def poll_feeds(self) -> list[feed_poller.PollOutcome]:
        """Poll every due feed: new items are queued, changed ones corrected if the feed says
        so, and the admins hear when a feed breaks or comes back."""
        if self._running is None or not self.app.feeds:
            return []
        running = self._running

        async def queue_and_wake(draft: ArticleDraft) -> Queued:
            # Each story goes out as soon as it is queued, not when the slowest feed of this
            # round has answered.
            queued = await running.store.add_article(draft)
            if queued.created:
                self.wake.set()
            return queued

        try:
            outcomes = await feed_poller.poll_due(
                running.store,
                self.app.feeds,
                owner=self.owner,
                clock=self.clock,
                client=running.feed_client,
                queue=queue_and_wake,
                settings=feed_poller.PollSettings(default_language=self.app.default_language),
            )
        except Exception:  # the store is down: the next tick tries again
            log.exception("polling the feeds failed")
            return []
        ledger = Ledger(running.store)
        for outcome in outcomes:
            metrics.count(metrics.FEED_POLLS, outcome.feed, str(outcome.result))
            if outcome.queued:
                metrics.count(metrics.FEED_ITEMS, outcome.feed, amount=len(outcome.queued))
            for article_id, draft in outcome.corrections:
                try:
                    await ledger.correct(article_id, draft)
                except (LookupError, ValueError) as exc:  # retracted or deleted meanwhile
                    log.warning(
                        "feed %s: story #%d not corrected: %s", outcome.feed, article_id, exc
                    )
            if outcome.alert is not None:
                await running.dispatcher.alerter.notify(outcome.alert.title, outcome.alert.detail)
        if any(o.queued or o.corrections for o in outcomes):
            self.wake.set()
            await wakeup.notify(running.store)  # and the other workers
        return outcomes

    async def send_digests(self) -> list[DigestOutcome]:
        """The digests whose window has closed (each goes out once, whichever worker sends)."""
        if self._running is None or self._running.digests is None:
            return []
        try:
            return await self._running.digests.run_due()
        except Exception:  # a digest's failure never stops the workers
            log.exception("sending digests failed")
            return []

    async def run_background(self) -> int:
        """The platforms' own queues (email's confirmation emails): what is due now."""
        if self._running is None:
            return 0
        done = 0
        for work in self._running.background:
            try:
                done += await work.run_due()
            except Exception:  # one platform's failure never stops the workers
                log.exception("a platform's background work failed")
        return done

    async def _reap(self) -> None:
        if self._running is None:
            return
        policies = {
            name: "resend" if adapter.idempotent else adapter.config.in_doubt
            for name, adapter in self._running.adapters.items()
        }
        for reaped in await Ledger(self._running.store).reap(policies):
            outcome = "retried" if reaped.outcome == "retry" else "skipped"
            metrics.delivery(reaped.channel, reaped.operation, outcome)
            log.warning(
                "delivery %s on %s was abandoned by its worker: %s%s",
                reaped.delivery_id,
                reaped.channel,
                reaped.outcome,
                " (in doubt)" if reaped.in_doubt else "",
            )
            self.wake.set()


async def _stop_when(stop: asyncio.Event, dispatcher: Dispatcher) -> None:
    # Deliveries not started yet go back to the queue; the ones in flight finish.
    await stop.wait()
    dispatcher.stopping = True


async def _first(*waits: Awaitable[object]) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


async def _first_or_done(task: asyncio.Task[TickReport], *waits: Awaitable[object]) -> None:
    # Like _first, but ``task`` is left running: only the waits are cancelled.
    others = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait([task, *others], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for other in others:
            other.cancel()


def install_signal_handlers(stop: asyncio.Event) -> Callable[[], None]:
    """SIGINT/SIGTERM set ``stop``; returns a function that removes the handlers."""
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)

    def remove() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)

    return remove
