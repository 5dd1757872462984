"""Several workers polling one set of feeds: each feed polled by one, each item queued once."""

from __future__ import annotations

import asyncio
import random
from unittest import mock

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Table, func, select
from sqlalchemy.engine import Connection

import distributor.feeds.models  # noqa: F401  (the feed tables join the core metadata)
from distributor import database
from distributor.config import StoreConfig
from distributor.feeds.config import FeedConfig
from distributor.feeds.fetch import FeedClient
from distributor.feeds.models import ItemDisposition
from distributor.feeds.poller import Poller, PollResult
from distributor.feeds.state import FeedLedger, NewItem
from distributor.models import Article, Base
from distributor.store import Store
from tests.conftest import FakeClock
from tests.feeds.documents import Channel, Item, rss
from tests.feeds.server import FeedServer, Reply

FEEDS = 12


def steady_rng() -> random.Random:
    rng = mock.Mock(spec=random.Random)
    rng.uniform.return_value = 0.0
    return rng


def document(feed: int, numbers: range) -> str:
    return rss(
        Channel(
            items=[
                Item(guid=f"f{feed}-{n}", link=f"/f{feed}/{n}", title=f"Feed {feed} story {n}")
                for n in numbers
            ]
        )
    )


async def test_two_workers_poll_each_feed_once_and_queue_each_item_once(
    store: Store, store_url: str, server: FeedServer, client: FeedClient, clock: FakeClock
) -> None:
    feeds = [FeedConfig(name=f"feed-{i}", url=server.url(f"/feed-{i}.xml")) for i in range(FEEDS)]
    for i in range(FEEDS):
        server.set(f"/feed-{i}.xml", Reply(document(i, range(3))))
    second_store = await Store.open(StoreConfig(url=store_url), clock=clock)
    try:
        workers = [
            Poller(s, feeds, owner=owner, clock=clock, client=client, rng=steady_rng())
            for s, owner in ((store, "worker-a"), (second_store, "worker-b"))
        ]
        first = await asyncio.gather(*(w.poll_due() for w in workers))
        for i in range(FEEDS):
            server.set(f"/feed-{i}.xml", Reply(document(i, range(5))))  # two new items each
        clock.advance(minutes=5)
        second = await asyncio.gather(*(w.poll_due() for w in workers))
    finally:
        await second_store.close()

    for round_ in (first, second):
        polled = [o.feed for outcomes in round_ for o in outcomes]
        assert sorted(polled) == sorted(f.name for f in feeds)  # every feed, by one worker
    outcomes = [o for outcomes in second for o in outcomes]
    assert {o.result for o in outcomes} == {PollResult.READ}
    queued = [article_id for o in outcomes for article_id in o.queued]
    assert len(queued) == len(set(queued)) == FEEDS * 2
    assert not any(o.duplicates for o in outcomes)
    async with store.session() as session:
        titles = list(await session.scalars(select(Article.title)))
    assert sorted(titles) == sorted(f"Feed {i} story {n}" for i in range(FEEDS) for n in (3, 4))


async def test_recording_one_item_from_two_workers_gives_it_to_exactly_one(
    store: Store, store_url: str, clock: FakeClock
) -> None:
    second_store = await Store.open(StoreConfig(url=store_url), clock=clock)
    try:
        ledgers = [FeedLedger(store), FeedLedger(second_store)]
        await ledgers[0].ensure(["wire"])
        items = [NewItem(f"{n:064x}", "h", ItemDisposition.PENDING) for n in range(300)]
        # Each worker sees the same items, in a different order.
        got_a, got_b = await asyncio.gather(
            ledgers[0].record("wire", items), ledgers[1].record("wire", items[::-1])
        )
    finally:
        await second_store.close()

    assert not got_a & got_b
    assert got_a | got_b == {item.key for item in items}
    assert len(await ledgers[0].items("wire")) == 300


async def test_claims_are_disjoint_between_workers(
    store: Store, store_url: str, clock: FakeClock
) -> None:
    names = [f"feed-{i}" for i in range(40)]
    second_store = await Store.open(StoreConfig(url=store_url), clock=clock)
    try:
        a, b = FeedLedger(store), FeedLedger(second_store)
        await a.ensure(names)
        claims = await asyncio.gather(
            *(ledger.claim_due(owner, names, 15, 60) for ledger, owner in ((a, "a"), (b, "b"))),
            a.claim_due("a2", names, 15, 60),
        )
        left = await b.claim_due("b2", names, 100, 60)
    finally:
        await second_store.close()

    taken = [state.name for claim in claims for state in claim]
    assert len(taken) == len(set(taken)) == 40 - len(left) and len(taken) == 40
    assert left == []


def _table_of(diff: object) -> str | None:
    """The table an autogenerate difference is about (its shapes vary by kind)."""
    op = diff[0] if isinstance(diff, list) else diff
    assert isinstance(op, tuple)
    if isinstance(op[1], Table):
        return op[1].name
    table = getattr(op[1], "table", None)
    if isinstance(table, Table):
        return table.name
    return op[2] if len(op) > 2 and isinstance(op[2], str) else None


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    diffs = compare_metadata(context, Base.metadata)
    return [d for d in diffs if _table_of(d) in ("feeds", "feed_items")]


async def test_the_migration_builds_the_feed_tables_the_models_declare(store_url: str) -> None:
    engine = database.create_engine(store_url)
    try:
        await database.upgrade(engine)
        async with engine.connect() as conn:
            found = await conn.run_sync(_differences)
            count = await conn.scalar(
                select(func.count()).select_from(Base.metadata.tables["feeds"])
            )
    finally:
        await engine.dispose()

    assert found == []
    assert count == 0
