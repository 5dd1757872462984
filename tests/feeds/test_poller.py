"""Polling real feeds from the local server into the store, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import timedelta
from unittest import mock

import pytest
from sqlalchemy import select

from distributor.config import StoreConfig
from distributor.feeds import poller
from distributor.feeds.config import FeedConfig
from distributor.feeds.fetch import FeedClient
from distributor.feeds.models import FeedStatus, ItemDisposition
from distributor.feeds.poller import Poller, PollResult, PollSettings
from distributor.feeds.state import AlertKind, FeedLedger
from distributor.ledger import Ledger
from distributor.models import Article
from distributor.store import Queued, Store
from distributor.types import ArticleDraft
from tests.conftest import FakeClock
from tests.feeds.documents import LONG_TEXT, Channel, Item, atom, json_feed, page, rss
from tests.feeds.server import ATOM, HTML, JSON_FEED, FeedServer, Reply


def steady_rng() -> random.Random:
    """Randomness pinned to zero: no jitter, so next poll times are exact."""
    rng = mock.Mock(spec=random.Random)
    rng.uniform.return_value = 0.0
    return rng


def stories(numbers: Sequence[int], **fields: object) -> list[Item]:
    """Items n (dated the n-th of November) with a guid and a relative link; ``fields`` win."""
    return [
        Item(
            **{  # type: ignore[arg-type]
                "guid": f"urn:story:{n}",
                "link": f"/story/{n}",
                "title": f"Council story number {n}",
                "published": f"Sun, {n:02d} Nov 2026 08:00:00 +0000",
                **fields,
            }
        )
        for n in numbers
    ]


def make_poller(
    store: Store,
    feeds: Sequence[FeedConfig],
    client: FeedClient,
    clock: FakeClock,
    *,
    owner: str = "worker-a",
    **settings: object,
) -> Poller:
    return Poller(
        store,
        feeds,
        owner=owner,
        clock=clock,
        client=client,
        rng=steady_rng(),
        settings=PollSettings(**settings),  # type: ignore[arg-type]
    )


async def all_articles(store: Store) -> list[Article]:
    async with store.session() as session:
        return list(await session.scalars(select(Article).order_by(Article.id)))


async def test_the_first_poll_remembers_and_later_items_are_queued_once(
    store: Store, server: FeedServer, client: FeedClient, clock: FakeClock
) -> None:
    feed = FeedConfig(name="wire", url=server.url("/feed.xml"), tags=("wire",), priority=2)
    server.set("/feed.xml", Reply(rss(Channel(items=stories([3, 2, 1])))))
    worker = make_poller(store, [feed], client, clock)

    [first] = await worker.poll_due()

    assert (first.result, first.queued, first.remembered) == (PollResult.READ, [], 3)
    assert first.status == FeedStatus.OK
    assert await all_articles(store) == []
    assert await worker.poll_due() == []  # not due again before its interval

    server.set("/feed.xml", Reply(rss(Channel(items=stories([4, 3, 2, 1])))))
    clock.advance(seconds=300)
    [second] = await worker.poll_due()
    clock.advance(seconds=300)
    [third] = await worker.poll_due()

    [article] = await all_articles(store)
    assert second.queued == [article.id] and third.queued == []
    assert article.title == "Council story number 4"
    assert article.url == server.url("/story/4")
    assert (article.source, article.tags, article.priority) == ("wire", ["wire"], 2)
    assert article.language == "en"  # detected from the text: nobody said
    assert article.external_id and article.external_id.startswith("feed:wire:")
    state = await FeedLedger(store).get("wire")
    assert state is not None
    assert (state.items_seen, state.consecutive_failures, state.lease_owner) == (4, 0, None)
    assert state.next_poll_at == clock.now + timedelta(seconds=300)


async def test_backfill_queues_the_newest_items_oldest_first(
    store: Store, server: FeedServer, client: FeedClient, clock: FakeClock
) -> None:
    feed = FeedConfig(name="wire", url=server.url("/feed.xml"), backfill=2)
    # Document order is not date order: the two newest are 5 and 4.
    server.set("/feed.xml", Reply(rss(Channel(items=stories([2, 5, 1, 4, 3])))))

    [outcome] = await poller.poll_due(
        store, [feed], owner="w", clock=clock, client=client, rng=steady_rng()
    )

    articles = await all_articles(store)
    assert [a.title for a in articles] == ["Council story number 4", "Council story number 5"]
    assert outcome.queued == [a.id for a in articles]
    assert outcome.remembered == 3


async def test_a_304_costs_nothing(
    store: Store, server: FeedServer, client: FeedClient, clock: FakeClock
) -> None:
    feed = FeedConfig(name="wire", url=server.url("/feed.xml"))
    server.set("/feed.xml", Reply(rss(Channel(items=stories([1]))), etag='"abc"'))
    worker = make_poller(store, [feed], client, clock)
    await worker.poll_due()
    clock.advance(minutes=5)

    [outcome] = await worker.poll_due()

    assert outcome.result == PollResult.NOT_MODIFIED and outcome.status == FeedStatus.OK
    assert server.hits("/feed.xml")[1].headers["If-None-Match"] == '"abc"'
    state = await FeedLedger(store).get("wire")
    assert state is not None and state.etag == '"abc"' and state.items_seen == 1


async def test_rss_atom_and_json_feeds_with_relative_links_and_no_guids(
    store: Store, server: FeedServer, client: FeedClient, clock: FakeClock
) -> None:
    def channel(numbers: Sequence[int]) -> Channel:
        return Channel(items=stories(numbers, guid=None, image="/img/photo.jpg"))

    feeds = [
        FeedConfig(name="rss", url=server.url("/news/rss.xml"), language="fr"),
        FeedConfig(name="atom", url=server.url("/news/atom.xml"), language="fr"),
        FeedConfig(name="json", url=server.url("/news/feed.json"), language="fr"),
    ]
    worker = make_poller(store, feeds, client, clock)
    for numbers in ([1], [2, 1]):
        server.set("/news/rss.xml", Reply(rss(channel(numbers))))
        server.set("/news/atom.xml", Reply(atom(channel(numbers)), content_type=ATOM))
        server.set("/news/feed.json", Reply(json_feed(channel(numbers)), content_type=JSON_FEED))
        outcomes = await worker.poll_due()
        assert sorted(o.feed for o in outcomes) == ["atom", "json", "rss"]
        clock.advance(minutes=6)

    articles = await all_articles(store)
    assert sorted(a.source or "" for a in articles) == ["atom", "json", "rss"]
    assert {a.url for a in articles} == {server.url("/story/2")}
    assert {a.image for a in articles} == {server.url("/img/photo.jpg")}
    assert {a.language for a in articles} == {"fr"}


async def test_a_changed_item_is_ignored_or_becomes_a_correction(
    store: Store, server: FeedServer, client: FeedClient, clock: FakeClock
) -> None:
    feeds = [
        FeedConfig(name="quiet", url=server.url("/quiet.xml")),
        FeedConfig(name="strict", url=server.url("/strict.xml"), on_update="correct"),
    ]
    worker = make_poller(store, feeds, client, clock)
    for path in ("/quiet.xml", "/strict.xml"):
        server.set(path, Reply(rss(Channel(items=stories([1])))))
    await worker.poll_due()
    for path in ("/quiet.xml", "/strict.xml"):
        server.set(path, Reply(rss(Channel(items=stories([2, 1])))))
    clock.advance(minutes=5)
    queued = {o.feed: o.queued[0] for o in await worker.poll_due()}

    edited = LONG_TEXT + " A late paragraph was added by the desk."
    for path in ("/quiet.xml", "/strict.xml"):
        changed = stories([2], description=edited) + stories([1])
        server.set(path, Reply(rss(Channel(items=changed))))
    clock.advance(minutes=5)
    outcomes = {o.feed: o for o in await worker.poll_due()}
    clock.advance(minutes=5)
    again = {o.feed: o for o in await worker.poll_due()}

    assert outcomes["quiet"].corrections == []
    assert any("changed; ignored" in note for note in outcomes["quiet"].notes)
    [(article_id, draft)] = outcomes["strict"].corrections
    assert article_id == queued["strict"]
    assert draft.body.endswith("added by the desk.")
    assert again["strict"].corrections == []  # a change is acted on once
    await Ledger(store).correct(article_id, draft)  # the editorial path takes the draft
    article = await store.get_article(article_id)
    assert article is not None and article.version == 2


async def test_failures_alert_once_back_off_and_recovery_alerts_again(
    store: Store, server: FeedServer, client: FeedClient, clock: FakeClock
) -> None:
    feed = FeedConfig(name="flaky", url=server.url("/feed.xml"))
    good = Reply(rss(Channel(items=stories([1]))))
    server.set("/feed.xml", *[Reply("down", status=500)] * 4, good)
    worker = make_poller(store, [feed], client, clock, failure_threshold=3)

    outcomes, delays = [], []
    for _ in range(5):
        [outcome] = await worker.poll_due()
        outcomes.append(outcome)
        assert outcome.next_poll_at is not None
        delays.append((outcome.next_poll_at - clock.now).total_seconds())
        clock.now = outcome.next_poll_at

    assert [o.result for o in outcomes] == [PollResult.FAILED] * 4 + [PollResult.READ]
    assert [o.status for o in outcomes] == [
        FeedStatus.FAILING,
        FeedStatus.FAILING,
        FeedStatus.BROKEN,
        FeedStatus.BROKEN,
        FeedStatus.OK,
    ]
    assert [o.alert.kind if o.alert else None for o in outcomes] == [
        None,
        None,
        AlertKind.BROKEN,
        None,
        AlertKind.RECOVERED,
    ]
    assert delays == [300, 600, 1200, 2400, 300]  # exponential while failing
    broken = outcomes[2].alert
    assert broken is not None and "HTTP 500" in broken.detail and feed.url in broken.detail
    assert outcomes[0].error is not None and "HTTP 500" in outcomes[0].error
    state = await FeedLedger(store).get("flaky")
    assert state is not None and not state.alerted and state.last_error is None


async def test_retry_after_pushes_the_next_poll_back(
    store: Store, server: FeedServer, client: FeedClient, clock: FakeClock
) -> None:
    feed = FeedConfig(name="busy", url=server.url("/feed.xml"))
    server.set("/feed.xml", Reply(status=429, headers={"Retry-After": "3600"}))

    [outcome] = await make_poller(store, [feed], client, clock).poll_due()

    assert outcome.result == PollResult.FAILED
    assert outcome.next_poll_at == clock.now + timedelta(seconds=3600)


async def test_broken_documents_and_servers_are_failures(
    store: Store, server: FeedServer, client: FeedClient, clock: FakeClock
) -> None:
    server.set("/garbage.xml", Reply("<rss><channel><item><title>unclosed &bad; <<<"))
    server.set("/loop.xml", Reply(status=302, headers={"Location": "/loop.xml"}))
    server.set("/silent.xml", Reply(hang=True))
    server.set("/big.xml", Reply(stream_bytes=10_000_000))
    feeds = [
        FeedConfig(name=name, url=server.url(f"/{name}.xml"))
        for name in ("garbage", "loop", "silent", "big")
    ]

    outcomes = {o.feed: o for o in await make_poller(store, feeds, client, clock).poll_due()}

    assert {o.result for o in outcomes.values()} == {PollResult.FAILED}
    errors = {name: o.error or "" for name, o in outcomes.items()}
    assert "malformed feed" in errors["garbage"]
    assert "redirects" in errors["loop"]
    assert "timed out" in errors["silent"]
    assert "larger than the limit" in errors["big"]
    for state in await FeedLedger(store).all():
        assert (state.status, state.consecutive_failures, state.lease_owner) == (
            FeedStatus.FAILING,
            1,
            None,
        )


async def test_an_item_recorded_but_not_queued_is_queued_by_the_next_poll(
    store: Store, server: FeedServer, client: FeedClient, clock: FakeClock
) -> None:
    feed = FeedConfig(name="wire", url=server.url("/feed.xml"))
    server.set("/feed.xml", Reply(rss(Channel(items=stories([1])))))
    crashing = True

    async def queue(draft: ArticleDraft) -> Queued:
        if crashing:
            raise ConnectionError("the store went away mid-poll")
        return await store.add_article(draft)

    worker = Poller(
        store, [feed], owner="w", clock=clock, client=client, queue=queue, rng=steady_rng()
    )
    await worker.poll_due()
    server.set("/feed.xml", Reply(rss(Channel(items=stories([2, 1])))))
    clock.advance(minutes=5)
    [failed] = await worker.poll_due()
    [pending] = [i for i in await FeedLedger(store).items("wire") if i.article_id is None][-1:]

    crashing = False
    assert failed.next_poll_at is not None
    clock.now = failed.next_poll_at
    [retried] = await worker.poll_due()

    assert failed.result == PollResult.FAILED and "went away" in (failed.error or "")
    assert pending.disposition == ItemDisposition.PENDING
    [article] = await all_articles(store)
    assert retried.queued == [article.id] and article.title == "Council story number 2"


async def test_teasers_get_the_article_page_and_its_language(
    store: Store, server: FeedServer, client: FeedClient, clock: FakeClock
) -> None:
    server.set("/fr/story", Reply(page("fr"), content_type=HTML))
    teaser = [Item(guid="t1", link="/fr/story", title="Écoles : le plan", description="Voté.")]
    missing = [Item(guid="t2", link="/gone", title="Gone", description="Short teaser here.")]
    feeds = [
        FeedConfig(name="auto", url=server.url("/auto.xml")),
        FeedConfig(name="never", url=server.url("/never.xml"), full_text="never"),
        FeedConfig(name="lost", url=server.url("/lost.xml")),
    ]
    for name, items in (("auto", teaser), ("never", teaser), ("lost", missing)):
        server.set(f"/{name}.xml", Reply(rss(Channel(items=items))))

    await make_poller(
        store, [f.model_copy(update={"backfill": 1}) for f in feeds], client, clock
    ).poll_due()

    by_feed = {a.source: a for a in await all_articles(store)}
    assert by_feed["auto"].body.startswith("Le conseil municipal a voté mardi soir")
    assert by_feed["auto"].language == "fr"  # from the page's <html lang>
    assert by_feed["auto"].title == "Écoles : le plan"  # the feed's title stays
    assert by_feed["auto"].image == server.url("/images/ecole-renovation.jpg")
    assert by_feed["never"].body == "Voté."
    assert by_feed["lost"].body == "Short teaser here."  # the page failed: the feed's text
    assert len(server.hits("/fr/story")) == 1


async def test_the_feed_language_wins_and_detection_fills_in(
    store: Store, server: FeedServer, client: FeedClient, clock: FakeClock
) -> None:
    german = "Der Stadtrat hat am Dienstagabend einen Plan zur Sanierung der Schulen beschlossen."
    items = [Item(guid="d", title="Stadtrat beschließt Sanierung", description=german * 6)]
    feeds = [
        FeedConfig(name="said", url=server.url("/said.xml"), language="nl", backfill=1),
        FeedConfig(name="guessed", url=server.url("/guessed.xml"), backfill=1),
    ]
    for name in ("said", "guessed"):
        server.set(f"/{name}.xml", Reply(rss(Channel(items=items))))

    await make_poller(store, feeds, client, clock).poll_due()

    assert {a.source: a.language for a in await all_articles(store)} == {
        "said": "nl",
        "guessed": "de",
    }


async def test_poll_one_polls_now_and_knows_its_feeds(
    store: Store, server: FeedServer, client: FeedClient, clock: FakeClock
) -> None:
    feed = FeedConfig(name="wire", url=server.url("/feed.xml"))
    server.set("/feed.xml", Reply(rss(Channel(items=stories([1])))))
    worker = make_poller(store, [feed], client, clock)
    await worker.poll_due()

    again = await worker.poll_one("wire")  # not due, polled anyway

    assert again.result == PollResult.READ
    with pytest.raises(LookupError, match="no feed named 'nope'"):
        await worker.poll_one("nope")


async def test_a_worker_that_lost_its_lease_does_not_record_over_the_new_owner(
    store: Store, store_url: str, server: FeedServer, client: FeedClient, clock: FakeClock
) -> None:
    feed = FeedConfig(name="wire", url=server.url("/feed.xml"), backfill=1)
    server.set("/feed.xml", Reply(rss(Channel(items=stories([1])))))
    other_store = await Store.open(StoreConfig(url=store_url), clock=clock)
    try:
        late = make_poller(other_store, [feed], client, clock, owner="worker-b")
        seen: dict[str, PollResult] = {}

        async def stall_then_queue(draft: ArticleDraft) -> Queued:
            # Worker A stalls past its lease; B takes the feed over meanwhile.
            clock.advance(seconds=PollSettings().lease_seconds + 1)
            seen["busy_while_held"] = (await late.poll_one("wire")).result
            return await store.add_article(draft)

        slow = Poller(
            store, [feed], owner="worker-a", clock=clock, client=client, queue=stall_then_queue
        )
        [outcome] = await slow.poll_due()
    finally:
        await other_store.close()

    assert seen["busy_while_held"] == PollResult.READ  # B got the expired lease
    assert outcome.lease_lost
    [article] = await all_articles(store)  # queued once, by whichever got there first
    assert outcome.queued + outcome.duplicates == [article.id]


async def test_a_held_lease_makes_others_wait(
    store: Store, server: FeedServer, client: FeedClient, clock: FakeClock
) -> None:
    feed = FeedConfig(name="wire", url=server.url("/feed.xml"))
    server.set("/feed.xml", Reply(rss(Channel(items=stories([1])))))
    ledger = FeedLedger(store)
    await ledger.ensure(["wire"])
    assert await ledger.claim("worker-a", "wire", lease_seconds=60) is not None

    other = make_poller(store, [feed], client, clock, owner="worker-b")
    assert (await other.poll_one("wire")).result == PollResult.BUSY
    assert await other.poll_due() == []
    clock.advance(seconds=61)
    assert (await other.poll_one("wire")).result == PollResult.READ
