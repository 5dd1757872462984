"""Queueing a story again with other options changes it, as long as nothing has gone out."""

from __future__ import annotations

from datetime import timedelta

from distributor.config import ChannelConfig, Filters
from distributor.ledger import Ledger
from distributor.models import ArticleStatus
from distributor.store import Store
from distributor.unsent import Changes, revise_unsent
from tests.conftest import FakeClock
from tests.helpers import draft

CHANNELS = [
    ChannelConfig(name="en-only", platform="x", filters=Filters(languages=("en",))),
    ChannelConfig(name="de-only", platform="x", filters=Filters(languages=("de",))),
]


async def test_a_queued_story_takes_the_new_values(store: Store, clock: FakeClock) -> None:
    queued = await store.add_article(draft(1, publish_at=clock(), language="en", priority=0))
    later = clock() + timedelta(hours=2)
    revised = await revise_unsent(
        store, queued.article_id, Changes(language="de", priority=5, publish_at=later)
    )
    assert revised.refused is None
    assert revised.changed[0] == "language: en → de"
    assert any(change.startswith("priority: 0 → 5") for change in revised.changed)
    article = await store.get_article(queued.article_id)
    assert article is not None
    assert (article.language, article.priority, article.status) == ("de", 5, ArticleStatus.QUEUED)
    assert await Ledger(store).route_due(CHANNELS) == []  # not due any more


async def test_a_routed_story_nobody_tried_is_routed_again(store: Store, clock: FakeClock) -> None:
    ledger = Ledger(store)
    queued = await store.add_article(draft(1, publish_at=clock(), language="en"))
    await ledger.route_due(CHANNELS)
    assert [d.channel for d in await store.deliveries_for([queued.article_id])] == ["en-only"]
    revised = await revise_unsent(store, queued.article_id, Changes(language="de"))
    assert revised.changed == ("language: en → de",)
    assert await store.deliveries_for([queued.article_id]) == []
    assert await ledger.route_due(CHANNELS) == [queued.article_id]
    assert [d.channel for d in await store.deliveries_for([queued.article_id])] == ["de-only"]


async def test_a_story_that_started_going_out_is_refused_whole(
    store: Store, clock: FakeClock
) -> None:
    ledger = Ledger(store)
    queued = await store.add_article(draft(1, publish_at=clock(), language="en"))
    await ledger.route_due(CHANNELS)
    [claimed] = await ledger.claim("worker", ["en-only"], 10, 60)
    revised = await revise_unsent(store, queued.article_id, Changes(language="de", priority=9))
    assert revised.changed == ()
    assert revised.refused is not None and "distributor correct" in revised.refused
    article = await store.get_article(queued.article_id)
    assert article is not None
    assert (article.language, article.priority, article.status) == ("en", 0, ArticleStatus.ROUTED)
    assert [d.id for d in await store.deliveries_for([queued.article_id])] == [claimed.id]


async def test_the_same_values_change_nothing(store: Store, clock: FakeClock) -> None:
    queued = await store.add_article(draft(1, publish_at=clock(), language="en"))
    revised = await revise_unsent(store, queued.article_id, Changes(language="en"))
    assert revised.changed == () and revised.refused is None


async def test_a_missing_story_is_refused(store: Store) -> None:
    revised = await revise_unsent(store, 404, Changes(language="de"))
    assert revised.refused == "story #404 does not exist"
