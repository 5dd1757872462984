"""Prometheus metrics: what every worker counts, and the queue as the database sees it.

Two kinds, chosen so that several worker processes add up correctly without prometheus-client's
multiprocess mode (a shared folder of mmap files that must be set up before import and cleaned
after every crash):

- **Counters and histograms** (deliveries, send time, rate limits, pacing, email messages, feed
  polls) live in the process that did the work. Each ``distributor run`` serves its own on its
  metrics port; Prometheus scrapes every worker and ``sum()`` adds them up.
- **Gauges of shared state** (queue depth, the oldest due delivery, paused channels) are read
  from the database at scrape time (``QueueGauges``), so every worker and the web service
  report the same, true value whatever the number of processes: dashboards take ``max()``.

The metric objects are module attributes registered once in ``REGISTRY``; instrumented code
calls the small functions below, which cost a dictionary look-up and an addition, or nothing
at all once ``set_counting(False)`` (``metrics.counting: false``) turned them off.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from distributor.models import Article, ArticleStatus, ChannelState, Delivery, DeliveryStatus
from distributor.store import Store

REGISTRY = CollectorRegistry(auto_describe=True)

# Platform calls take milliseconds (a chat post) to minutes (a newsletter to a whole list).
SEND_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
# Waiting for a story to go out: seconds when all is well, hours when a channel is paused.
LATENCY_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600)
PACING_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300)

DELIVERY_OUTCOMES = ("sent", "retried", "failed", "dead", "skipped")

DELIVERIES = Counter(
    "distributor_deliveries",
    "Delivery attempts by channel, operation (send, edit, delete) and outcome "
    "(sent, retried, failed, dead, skipped).",
    ["channel", "operation", "outcome"],
    registry=REGISTRY,
)
SEND_SECONDS = Histogram(
    "distributor_send_seconds",
    "Time of the platform call of a delivery, pacing waits excluded.",
    ["channel"],
    buckets=SEND_BUCKETS,
    registry=REGISTRY,
)
QUEUE_TO_POST_SECONDS = Histogram(
    "distributor_queue_to_post_seconds",
    "From the time a story was due to the time its post went out, per channel.",
    ["channel"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "distributor_rate_limited",
    "Platform answers saying the rate limit was hit (429 or the like), per channel.",
    ["channel"],
    registry=REGISTRY,
)
PACING_WAIT_SECONDS = Histogram(
    "distributor_pacing_wait_seconds",
    "Time a delivery waited for its pacing slot before its first request left.",
    ["channel"],
    buckets=PACING_BUCKETS,
    registry=REGISTRY,
)
EMAIL_MESSAGES = Counter(
    "distributor_email_messages",
    "Newsletter messages by subscriber list and outcome (sent, deferred, bounced, failed, "
    "skipped).",
    ["list", "outcome"],
    registry=REGISTRY,
)
FEED_POLLS = Counter(
    "distributor_feed_polls",
    "Feed polls by feed and result (read, not_modified, failed, busy).",
    ["feed", "outcome"],
    registry=REGISTRY,
)
FEED_ITEMS = Counter(
    "distributor_feed_items_queued",
    "Stories queued from a feed.",
    ["feed"],
    registry=REGISTRY,
)
SCHEDULER_TICKS = Counter(
    "distributor_scheduler_ticks",
    "Dispatch passes run by this worker (its scheduler is alive when this moves).",
    registry=REGISTRY,
)
# The gauges QueueGauges computes at scrape time: declared here so the names live in one place.
QUEUE_DEPTH = "distributor_queue_depth"
OLDEST_DUE_SECONDS = "distributor_oldest_due_seconds"
CHANNEL_PAUSED = "distributor_channel_paused"
UP = Gauge("distributor_up", "1 while this process serves metrics.", registry=REGISTRY)
UP.set(1)


class _Switch:
    counting = True


def set_counting(on: bool) -> None:
    """Turn every counter and histogram update of this process on or off."""
    _Switch.counting = on


def counting() -> bool:
    return _Switch.counting


def delivery(channel: str, operation: str, outcome: str) -> None:
    if _Switch.counting:
        DELIVERIES.labels(channel, operation, outcome).inc()


def count(counter: Counter, *labels: str, amount: float = 1.0) -> None:
    """Add ``amount`` to ``counter`` (with ``labels``, if it has any)."""
    if _Switch.counting:
        (counter.labels(*labels) if labels else counter).inc(amount)


def observe(histogram: Histogram, channel: str, value: float) -> None:
    if _Switch.counting:
        histogram.labels(channel).observe(value)


def email_messages(list_name: str, before: Mapping[str, int], after: Mapping[str, int]) -> None:
    """Count the readers whose status one send moved to a final one (``after`` − ``before``)."""
    if not _Switch.counting:
        return
    for outcome, count in after.items():
        grown = count - before.get(outcome, 0)
        if grown > 0 and outcome not in ("pending", "sending"):
            EMAIL_MESSAGES.labels(list_name, outcome).inc(grown)


def exported_names() -> set[str]:
    """Every sample name a scrape can show (``_total``, ``_bucket``… included)."""
    names: set[str] = set()
    for metric in [*REGISTRY.collect(), *QueueGauges(["any"]).collect()]:
        names.update(sample.name for sample in metric.samples)
        if metric.type == "counter":
            names.add(f"{metric.name}_total")
        if metric.type == "histogram":
            names.update(f"{metric.name}{s}" for s in ("_bucket", "_sum", "_count"))
        if metric.type == "gauge":
            names.add(metric.name)
    return names


@dataclass
class QueueSnapshot:
    """The shared state read from the database for one scrape."""

    depth: dict[str, int] = field(default_factory=dict)
    oldest_due_seconds: float = 0.0
    paused: set[str] = field(default_factory=set)


async def snapshot(store: Store, now: datetime) -> QueueSnapshot:
    """Deliveries per status, how late the oldest due one is, which channels are paused."""
    result = QueueSnapshot()
    async with store.session() as session:
        rows = await session.execute(
            select(Delivery.status, func.count()).group_by(Delivery.status)
        )
        result.depth = {str(status): int(count) for status, count in rows.all()}
        queued = await session.scalar(
            select(func.count()).where(Article.status == ArticleStatus.QUEUED)
        )
        result.depth["queued_story"] = int(queued or 0)
        paused = await session.scalars(
            select(ChannelState.channel).where(ChannelState.paused.is_(True))
        )
        result.paused = set(paused.all())
        # A paused channel's backlog waits for the admin: distributor_channel_paused says so.
        due_delivery = await session.scalar(
            select(func.min(Delivery.next_attempt_at)).where(
                Delivery.status == DeliveryStatus.PENDING,
                Delivery.next_attempt_at <= now,
                Delivery.channel.not_in(sorted(result.paused)),
            )
        )
        due_story = await session.scalar(
            select(func.min(Article.publish_at)).where(
                Article.status == ArticleStatus.QUEUED, Article.publish_at <= now
            )
        )
    due = [t for t in (due_delivery, due_story) if t is not None]
    result.oldest_due_seconds = max(0.0, (now - min(due)).total_seconds()) if due else 0.0
    return result


class QueueGauges(Collector):
    """Serves the last ``QueueSnapshot`` as gauges; ``refresh`` reads a new one before a scrape.

    prometheus-client collects synchronously, the store is async: the scrape handler awaits
    ``refresh`` and then renders, so each scrape shows the database as it is.
    """

    def __init__(self, channels: Sequence[str], statuses: Iterable[str] = ()) -> None:
        self.channels = list(channels)
        self.statuses = list(statuses) or [s.value for s in DeliveryStatus]
        self.last = QueueSnapshot()

    async def refresh(self, store: Store, now: datetime) -> None:
        self.last = await snapshot(store, now)

    def collect(self) -> Iterable[Metric]:
        depth = GaugeMetricFamily(
            QUEUE_DEPTH,
            "Deliveries in the store per status, and stories queued but not yet routed "
            "(status queued_story); the same value from every process.",
            labels=["status"],
        )
        for status in [*self.statuses, "queued_story"]:
            depth.add_metric([status], self.last.depth.get(status, 0))
        yield depth
        yield GaugeMetricFamily(
            OLDEST_DUE_SECONDS,
            "How long the oldest due delivery (of a channel not paused) or unrouted story has "
            "been waiting (0: none).",
            value=self.last.oldest_due_seconds,
        )
        paused = GaugeMetricFamily(
            CHANNEL_PAUSED, "1 when the channel is paused, else 0.", labels=["channel"]
        )
        for channel in sorted({*self.channels, *self.last.paused}):
            paused.add_metric([channel], 1.0 if channel in self.last.paused else 0.0)
        yield paused
