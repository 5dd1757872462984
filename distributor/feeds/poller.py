"""Poll the feeds that are due: fetch, parse, queue what is new, remember what was seen.

No scheduler lives here: the service calls ``poll_due`` on its own schedule (and ``run --once``
before dispatching), the CLI calls ``poll_one``. Several workers may call them at once: a feed
is leased to one worker while it is polled, and an item becomes a story once whoever sees it.

One poll of one feed:

1. lease the feed's row (``state.FeedLedger.claim_due``);
2. conditional GET; a 304 ends the poll as a success with nothing to read;
3. parse, then record the items not seen before (insert-or-ignore on (feed, item key)). On the
   feed's first good poll they are only remembered, except the ``backfill`` newest;
4. for each item to queue: the article page's full text when the feed has only a teaser, the
   language when nobody gave it, then the story is queued and the item marked queued. An item
   recorded but not queued yet (a crash in between) is queued on the next poll;
5. items whose content changed are ignored, or returned as corrections (``on_update``);
6. record the poll and release the lease: next poll after the interval (with a little jitter),
   or after an exponential backoff when it failed. Reaching the failure threshold, and coming
   back from it, each give one ``FeedAlert`` for the service to pass to its ``Alerter``.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from distributor import extract, language
from distributor.clock import Clock
from distributor.feeds import fetch, parse
from distributor.feeds.config import FeedConfig
from distributor.feeds.fetch import Backoff, FeedClient, Fetched, FetchError, Validators
from distributor.feeds.models import FeedState, FeedStatus, ItemDisposition
from distributor.feeds.state import (
    AlertKind,
    FeedEvent,
    FeedLedger,
    NewItem,
    alert_for,
    failure_event,
    transition,
)
from distributor.store import Queued, Store
from distributor.types import ArticleDraft

log = logging.getLogger("distributor.feeds")

QueueFn = Callable[[ArticleDraft], Awaitable[Queued]]
DetectFn = Callable[[str, str], str | None]
# (page URL, client, public_only) → the page's story
ArticleFn = Callable[[str, FeedClient, bool], Awaitable[extract.Extracted]]


class PollResult(enum.StrEnum):
    READ = "read"  # a feed document came back and was read
    NOT_MODIFIED = "not_modified"  # 304
    FAILED = "failed"
    BUSY = "busy"  # another worker holds the feed's lease


@dataclass(frozen=True, slots=True)
class FeedAlert:
    """Something the admins should hear about a feed (once per break, once per recovery)."""

    feed: str
    kind: AlertKind
    title: str
    detail: str


@dataclass
class PollOutcome:
    """What one poll of one feed did."""

    feed: str
    result: PollResult
    status: FeedStatus | None = None
    queued: list[int] = field(default_factory=list)  # new stories' article ids
    duplicates: list[int] = field(default_factory=list)  # items whose story existed already
    remembered: int = 0  # items recorded without queueing (first poll, beyond the backfill)
    corrections: list[tuple[int, ArticleDraft]] = field(default_factory=list)
    alert: FeedAlert | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    next_poll_at: datetime | None = None
    lease_lost: bool = False  # another worker took the feed over before this poll finished


@dataclass(frozen=True)
class PollSettings:
    lease_seconds: float = 600.0
    failure_threshold: int = 5
    concurrency: int = 8  # feeds fetched side by side
    # Feeds claimed at once. A few rounds of ``concurrency``: a claimed feed waits its turn
    # well within its lease, even when every poll runs to its deadline.
    batch: int = 32
    default_language: str = "en"
    interval_jitter: float = 0.1  # next poll after interval × (1 + up to this)
    max_backoff_seconds: float = 6 * 3600.0


async def _fetch_article(url: str, client: FeedClient, public_only: bool) -> extract.Extracted:
    return await extract.fetch_article(url, client, public_only=public_only)


class Poller:
    """Polls the configured ``feeds`` for ``owner`` (a worker id, as for deliveries)."""

    def __init__(
        self,
        store: Store,
        feeds: Sequence[FeedConfig],
        *,
        owner: str,
        clock: Clock,
        client: FeedClient,
        queue: QueueFn | None = None,
        settings: PollSettings | None = None,
        rng: random.Random | None = None,
        detect: DetectFn = language.detect_story,
        fetch_article: ArticleFn = _fetch_article,
    ) -> None:
        self.store = store
        self.feeds = {feed.name: feed for feed in feeds}
        self.owner = owner
        self.clock = clock
        self.client = client
        self.queue = queue or store.add_article
        self.settings = settings or PollSettings()
        self.rng = rng or random.Random()
        self.detect = detect
        self.fetch_article = fetch_article
        self.ledger = FeedLedger(store)

    async def poll_due(self) -> list[PollOutcome]:
        """Poll every configured feed that is due, in batches, until none is left."""
        await self._ensure()
        outcomes: list[PollOutcome] = []
        polled: set[str] = set()
        gate = asyncio.Semaphore(self.settings.concurrency)

        async def one(state: FeedState) -> PollOutcome:
            async with gate:
                return await self._poll(state, self.feeds[state.name])

        while True:
            names = [name for name in self.feeds if name not in polled]
            claimed = await self.ledger.claim_due(
                self.owner, names, self.settings.batch, self.settings.lease_seconds
            )
            if not claimed:
                return outcomes
            polled.update(state.name for state in claimed)
            outcomes.extend(await asyncio.gather(*(one(state) for state in claimed)))

    async def poll_one(self, name: str) -> PollOutcome:
        """Poll ``name`` now, due or not.

        Raises:
            LookupError: no feed of that name is configured.
        """
        feed = self.feeds.get(name)
        if feed is None:
            raise LookupError(f"no feed named {name!r} in the configuration")
        await self._ensure()
        state = await self.ledger.claim(self.owner, name, self.settings.lease_seconds)
        if state is None:
            return PollOutcome(name, PollResult.BUSY, notes=["another worker is polling it"])
        return await self._poll(state, feed)

    async def _ensure(self) -> None:
        known = await self.ledger.names()
        await self.ledger.ensure([name for name in self.feeds if name not in known])

    # -- one feed -----------------------------------------------------------------------------

    async def _poll(self, state: FeedState, feed: FeedConfig) -> PollOutcome:
        try:
            return await self._poll_unguarded(state, feed)
        except Exception as exc:  # one feed's surprise must not stop the others
            log.exception("feed %s: poll failed unexpectedly", feed.name)
            try:
                return await self._failed(state, feed, f"{type(exc).__name__}: {exc}", None)
            except Exception:  # the store itself is failing; the lease will run out
                return PollOutcome(feed.name, PollResult.FAILED, error=str(exc))

    async def _poll_unguarded(self, state: FeedState, feed: FeedConfig) -> PollOutcome:
        headers = {name: value.get_secret_value() for name, value in feed.headers.items()}
        try:
            fetched = await self.client.get(
                feed.url,
                validators=Validators(state.etag, state.last_modified),
                headers=headers,
            )
        except FetchError as exc:
            return await self._failed(state, feed, str(exc), exc.retry_after)
        if fetched.not_modified:
            outcome = PollOutcome(feed.name, PollResult.NOT_MODIFIED)
            return await self._succeeded(state, feed, fetched, outcome, 0)
        try:
            document = parse.parse_feed(
                fetched.body, url=fetched.url, content_type=fetched.content_type
            )
        except parse.ParseError as exc:
            return await self._failed(state, feed, f"{feed.url}: {exc}", None)
        outcome = PollOutcome(feed.name, PollResult.READ, notes=list(document.notes))
        for note in document.notes:
            log.info("feed %s: %s", feed.name, note)
        recorded = await self._take(state, feed, document.items, outcome)
        return await self._succeeded(state, feed, fetched, outcome, recorded)

    async def _take(
        self,
        state: FeedState,
        feed: FeedConfig,
        found: Sequence[parse.FeedItem],
        outcome: PollOutcome,
    ) -> int:
        """Record, queue and compare the items; returns how many were new to the history."""
        unique: dict[str, parse.FeedItem] = {}
        for item in found:  # a feed listing one item twice: its first entry counts
            unique.setdefault(item.key, item)
        items = list(unique.values())
        seen = await self.ledger.seen(feed.name, [item.key for item in items])
        new = [item for item in items if item.key not in seen]
        if state.last_success_at is None:
            wanted = {item.key for item in parse.newest_first(new)[: feed.backfill]}
        else:
            wanted = {item.key for item in new}
        inserted = await self.ledger.record(
            feed.name,
            [
                NewItem(
                    item.key,
                    item.content_hash,
                    ItemDisposition.PENDING if item.key in wanted else ItemDisposition.REMEMBERED,
                )
                for item in new
            ],
        )
        outcome.remembered = len(inserted - wanted)
        retry = [
            item
            for item in items
            if item.key in seen and seen[item.key].disposition == ItemDisposition.PENDING
        ]
        to_queue = [item for item in new if item.key in inserted and item.key in wanted] + retry
        # Oldest first: stories of one priority then go out in the order the feed had them.
        for item in reversed(parse.newest_first(to_queue)):
            draft = await self._draft(feed, item)
            result = await self.queue(draft)
            await self.ledger.mark_queued(feed.name, item.key, result.article_id)
            (outcome.queued if result.created else outcome.duplicates).append(result.article_id)
            await self.ledger.renew(self.owner, feed.name, self.settings.lease_seconds)
        for item in items:
            before = seen.get(item.key)
            if before is None or before.content_hash == item.content_hash:
                continue
            if not await self.ledger.changed(
                feed.name, item.key, before.content_hash, item.content_hash
            ):
                continue  # another worker recorded this change first
            if (
                feed.on_update == "correct"
                and before.article_id is not None
                and before.disposition == ItemDisposition.QUEUED
            ):
                outcome.corrections.append((before.article_id, await self._draft(feed, item)))
            else:
                outcome.notes.append(f"item {item.url or item.identity} changed; ignored")
        return len(inserted)

    async def _draft(self, feed: FeedConfig, item: parse.FeedItem) -> ArticleDraft:
        """The story for ``item``: full text where the feed only has a teaser, a language."""
        text, title, image = item.text, None, None
        story_language = feed.language or item.language
        wants_page = feed.full_text == "always" or (
            feed.full_text == "auto" and extract.is_teaser(item.text, story_language)
        )
        if wants_page and item.url:
            # A link in a public feed must lead to a public page; an intranet feed (the admin's
            # choice) may link to its own intranet.
            public_only = await fetch.is_public(urlsplit(feed.url).hostname or "")
            try:
                page = await self.fetch_article(item.url, self.client, public_only)
            except extract.ExtractError as exc:
                log.info("feed %s: kept the feed's text for %s: %s", feed.name, item.url, exc)
            else:
                # A paywall or a cookie wall yields less than the feed had: keep the feed's.
                if len(page.text) > len(item.text):
                    text = page.text
                title, image = page.title, page.image
                story_language = story_language or page.language
        if story_language is None:
            detected = await asyncio.to_thread(self.detect, item.title or title or "", text)
            story_language = detected or self.settings.default_language
        return parse.to_draft(
            item,
            feed,
            now=self.clock(),
            language=story_language,
            text=text,
            title=title,
            image=image,
        )

    # -- bookkeeping --------------------------------------------------------------------------

    async def _succeeded(
        self,
        state: FeedState,
        feed: FeedConfig,
        fetched: Fetched,
        outcome: PollOutcome,
        recorded: int,
    ) -> PollOutcome:
        now = self.clock()
        status = transition(state.status, FeedEvent.SUCCEED)
        jitter = self.rng.uniform(0.0, self.settings.interval_jitter)
        next_at = now + timedelta(seconds=feed.interval * (1.0 + jitter))
        values: dict[str, Any] = {
            "status": status,
            "etag": _clip(fetched.validators.etag, 512),
            "last_modified": _clip(fetched.validators.last_modified, 128),
            "last_polled_at": now,
            "last_success_at": now,
            "next_poll_at": next_at,
            "consecutive_failures": 0,
            "last_error": None,
            "alerted": False,
            "items_seen": FeedState.items_seen + recorded,
        }
        outcome.status, outcome.next_poll_at = status, next_at
        if not await self.ledger.finish(self.owner, feed.name, **values):
            outcome.lease_lost = True
            return outcome
        if alert_for(state.status, status) == AlertKind.RECOVERED:
            outcome.alert = FeedAlert(
                feed.name,
                AlertKind.RECOVERED,
                f"feed {feed.name} works again",
                f"{feed.url} answered again after {state.consecutive_failures} failed polls.",
            )
        log.info(
            "feed %s: %s, %d queued, %d remembered, %d correction(s)",
            feed.name,
            outcome.result,
            len(outcome.queued),
            outcome.remembered,
            len(outcome.corrections),
        )
        return outcome

    async def _failed(
        self, state: FeedState, feed: FeedConfig, error: str, retry_after: float | None
    ) -> PollOutcome:
        now = self.clock()
        failures = state.consecutive_failures + 1
        event = failure_event(state.status, failures, self.settings.failure_threshold)
        status = transition(state.status, event)
        backoff = Backoff(
            base_seconds=feed.interval,
            max_seconds=max(feed.interval, self.settings.max_backoff_seconds),
            rng=self.rng,
        )
        next_at = now + timedelta(seconds=backoff.delay(failures, retry_after))
        alert = alert_for(state.status, status)
        values: dict[str, Any] = {
            "status": status,
            "last_polled_at": now,
            "next_poll_at": next_at,
            "consecutive_failures": failures,
            "last_error": error[:2000],
        }
        if alert is not None:
            values["alerted"] = True
        outcome = PollOutcome(
            feed.name, PollResult.FAILED, status=status, error=error, next_poll_at=next_at
        )
        log.warning("feed %s: poll %d failed in a row: %s", feed.name, failures, error)
        if not await self.ledger.finish(self.owner, feed.name, **values):
            outcome.lease_lost = True
            return outcome
        if alert == AlertKind.BROKEN:
            outcome.alert = FeedAlert(
                feed.name,
                AlertKind.BROKEN,
                f"feed {feed.name} is failing",
                f"{failures} polls of {feed.url} failed in a row; the last: {error}. "
                "It is still tried, less often; another message follows when it works again.",
            )
        return outcome


def _clip(value: str | None, length: int) -> str | None:
    # A validator longer than the column is useless to send back anyway.
    return value if value is None or len(value) <= length else None


async def poll_due(
    store: Store,
    feeds: Sequence[FeedConfig],
    *,
    owner: str,
    clock: Clock,
    client: FeedClient,
    queue: QueueFn | None = None,
    **options: Any,
) -> list[PollOutcome]:
    """Poll every due feed once (see ``Poller``); ``options`` go to ``Poller``."""
    poller = Poller(store, feeds, owner=owner, clock=clock, client=client, queue=queue, **options)
    return await poller.poll_due()


async def poll_one(
    store: Store,
    feeds: Sequence[FeedConfig],
    name: str,
    *,
    owner: str,
    clock: Clock,
    client: FeedClient,
    queue: QueueFn | None = None,
    **options: Any,
) -> PollOutcome:
    """Poll the feed ``name`` now, due or not (``feeds poll NAME``).

    Raises:
        LookupError: no feed of that name is configured.
    """
    poller = Poller(store, feeds, owner=owner, clock=clock, client=client, queue=queue, **options)
    return await poller.poll_one(name)
