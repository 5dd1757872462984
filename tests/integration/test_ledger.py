"""The store and the delivery ledger, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from distributor.config import ChannelConfig, Filters
from distributor.ledger import Ledger
from distributor.models import DeliveryStatus, Operation
from distributor.store import Store
from distributor.types import MessageRef, SendResult
from tests.conftest import FakeClock
from tests.helpers import draft

CHANNELS = [
    ChannelConfig(name="all", platform="x"),
    ChannelConfig(name="fr-only", platform="x", filters=Filters(languages=("fr",))),
    ChannelConfig(name="off", platform="x", enabled=False),
]


async def test_queueing_twice_is_a_no_op(store: Store, clock: FakeClock) -> None:
    first = await store.add_article(draft(1, publish_at=clock()))
    second = await store.add_article(draft(1, publish_at=clock(), title="Changed title"))
    assert first.created and not second.created
    assert second.article_id == first.article_id
    article = await store.get_article(first.article_id)
    assert article is not None and article.title == "Story 1"


async def test_routing_follows_filters_and_is_idempotent(store: Store, clock: FakeClock) -> None:
    ledger = Ledger(store)
    en = await store.add_article(draft(1, publish_at=clock(), language="en"))
    fr = await store.add_article(draft(2, publish_at=clock(), language="fr"))
    later = await store.add_article(draft(3, publish_at=clock() + timedelta(hours=1)))
    routed = await ledger.route_due(CHANNELS)
    assert sorted(routed) == sorted([en.article_id, fr.article_id])
    assert await ledger.route_due(CHANNELS) == []  # nothing new
    rows = await store.deliveries_for([en.article_id, fr.article_id, later.article_id])
    pairs = sorted((d.article_id, d.channel) for d in rows)
    assert pairs == sorted(
        [(en.article_id, "all"), (fr.article_id, "all"), (fr.article_id, "fr-only")]
    )
    clock.advance(hours=1)
    assert await ledger.route_due(CHANNELS) == [later.article_id]


async def test_claims_are_disjoint_between_workers(store: Store, clock: FakeClock) -> None:
    for n in range(60):
        await store.add_article(draft(n, publish_at=clock()))
    await Ledger(store).route_due(CHANNELS[:1])
    workers = [Ledger(store) for _ in range(4)]
    batches = await asyncio.gather(
        *(w.claim(f"worker-{i}", ["all"], 10, 60) for i, w in enumerate(workers))
    )
    # Each worker gets its own batch of exactly `limit` rows: nobody takes the whole queue.
    assert [len(batch) for batch in batches] == [10, 10, 10, 10]
    ids = [d.id for batch in batches for d in batch]
    assert len(set(ids)) == 40
    rest = await Ledger(store).claim("late", ["all"], 25, 60)
    assert len(rest) == 20 and not {d.id for d in rest} & set(ids)
    assert not await Ledger(store).claim("later", ["all"], 25, 60)


async def test_lease_guards_every_write(store: Store, clock: FakeClock) -> None:
    ledger = Ledger(store)
    article = await store.add_article(draft(1, publish_at=clock()))
    await ledger.route_due(CHANNELS[:1])
    [delivery] = await ledger.claim("a", ["all"], 10, 60)
    assert not await ledger.mark_started(delivery, "intruder")
    assert await ledger.mark_started(delivery, "a")
    result = SendResult((MessageRef("chat", "42"),), clock())
    assert not await ledger.record_success(delivery, "intruder", result, 1)
    assert await ledger.record_success(delivery, "a", result, 1)
    [row] = await store.deliveries_for([article.article_id])
    assert row.status == DeliveryStatus.SENT and row.refs == [
        {"target": "chat", "message_id": "42", "kind": ""}
    ]


async def test_expired_leases_are_reaped_by_policy(store: Store, clock: FakeClock) -> None:
    ledger = Ledger(store)
    channels = [
        ChannelConfig(name="resend", platform="x"),
        ChannelConfig(name="skip", platform="x"),
    ]
    for n in range(2):
        await store.add_article(draft(n, publish_at=clock()))
    await ledger.route_due(channels)
    claimed = await ledger.claim("dead-worker", ["resend", "skip"], 10, 30)
    started = [d for d in claimed if d.article_id == 1]
    for delivery in started:  # article 1's calls were in flight when the worker died
        await ledger.mark_started(delivery, "dead-worker")
    clock.advance(seconds=10)
    assert await ledger.reap({"resend": "resend", "skip": "skip"}) == []  # not expired yet
    clock.advance(seconds=30)
    reaped = await ledger.reap({"resend": "resend", "skip": "skip"})
    outcome = {(r.delivery_id, r.channel): (r.outcome, r.in_doubt) for r in reaped}
    assert len(outcome) == 4
    rows = {(d.article_id, d.channel): d for d in await store.deliveries_for([1, 2])}
    assert rows[(1, "skip")].status == DeliveryStatus.SKIPPED  # in doubt, policy skip
    assert rows[(1, "resend")].status == DeliveryStatus.PENDING  # in doubt, policy resend
    assert rows[(2, "skip")].status == DeliveryStatus.PENDING  # never started: safe to send
    assert rows[(2, "resend")].status == DeliveryStatus.PENDING
    # What the reaper reports is what it did, and for which operation.
    assert outcome[(rows[(1, "skip")].id, "skip")] == ("skipped", True)
    assert outcome[(rows[(1, "resend")].id, "resend")] == ("retry", True)
    assert {r.operation for r in reaped} == {"send"}


async def test_an_edit_in_doubt_is_retried_even_where_new_posts_are_skipped(
    store: Store, clock: FakeClock
) -> None:
    ledger = Ledger(store)
    article = await store.add_article(draft(1, publish_at=clock()))
    await ledger.route_due([ChannelConfig(name="skip", platform="x")])
    [delivery] = await ledger.claim("w", ["skip"], 10, 30)
    await ledger.record_success(delivery, "w", SendResult((MessageRef("c", "1"),), clock()), 1)
    await ledger.correct(article.article_id, draft(1, publish_at=clock(), title="Fixed"))
    [edit] = await ledger.claim("dead-worker", ["skip"], 10, 30)
    await ledger.mark_started(edit, "dead-worker")
    clock.advance(seconds=31)

    [reaped] = await ledger.reap({"skip": "skip"})

    assert (reaped.outcome, reaped.in_doubt, reaped.operation) == ("retry", True, "edit")
    [row] = await store.deliveries_for([article.article_id])
    assert row.status == DeliveryStatus.PENDING and row.operation == "edit"


async def test_correct_schedules_edits_and_retract_deletes(store: Store, clock: FakeClock) -> None:
    ledger = Ledger(store)
    article = await store.add_article(draft(1, publish_at=clock()))
    await ledger.route_due([*CHANNELS[:2], ChannelConfig(name="slow", platform="x")])
    claimed = await ledger.claim("w", ["all"], 10, 60)
    for delivery in claimed:
        await ledger.mark_started(delivery, "w")
        await ledger.record_success(delivery, "w", SendResult((MessageRef("c", "1"),), clock()), 1)
    edits = await ledger.correct(article.article_id, draft(1, publish_at=clock(), title="New"))
    assert edits == 1
    rows = {d.channel: d for d in await store.deliveries_for([article.article_id])}
    assert (rows["all"].status, rows["all"].operation) == (DeliveryStatus.PENDING, Operation.EDIT)
    assert rows["slow"].operation == Operation.SEND  # never sent: it will carry the new version
    deletes = await ledger.retract(article.article_id)
    assert deletes == 1
    rows = {d.channel: d for d in await store.deliveries_for([article.article_id])}
    assert (
        rows["all"].operation == Operation.DELETE and rows["all"].status == DeliveryStatus.PENDING
    )
    assert rows["slow"].status == DeliveryStatus.CANCELLED


async def test_a_correction_during_a_send_becomes_an_edit(store: Store, clock: FakeClock) -> None:
    ledger = Ledger(store)
    article = await store.add_article(draft(1, publish_at=clock()))
    await ledger.route_due(CHANNELS[:1])
    [delivery] = await ledger.claim("w", ["all"], 10, 60)
    await ledger.mark_started(delivery, "w")
    # The editor corrects the story while version 1 is on its way.
    await ledger.correct(article.article_id, draft(1, publish_at=clock(), title="v2"))
    await ledger.record_success(delivery, "w", SendResult((MessageRef("c", "1"),), clock()), 1)
    [row] = await store.deliveries_for([article.article_id])
    assert (row.status, row.operation, row.version) == (DeliveryStatus.PENDING, Operation.EDIT, 1)


async def test_retry_requeues_only_failed_and_dead(store: Store, clock: FakeClock) -> None:
    ledger = Ledger(store)
    for n in range(3):
        await store.add_article(draft(n, publish_at=clock()))
    await ledger.route_due(CHANNELS[:1])
    d_sent, d_dead, d_failed = await ledger.claim("w", ["all"], 10, 60)
    await ledger.record_success(d_sent, "w", SendResult((), clock()), 1)
    await ledger.record_failure(d_dead, "w", "boom", retry_at=None, final_status="dead")
    await ledger.record_failure(d_failed, "w", "rejected", retry_at=None, final_status="failed")
    assert await ledger.requeue(article_id=d_dead.article_id) == 1
    assert await ledger.requeue() == 1
    rows = {d.id: d for d in await store.deliveries_for([1, 2, 3])}
    assert rows[d_sent.id].status == DeliveryStatus.SENT
    assert rows[d_dead.id].status == rows[d_failed.id].status == DeliveryStatus.PENDING
    assert rows[d_dead.id].attempts == 0


async def test_next_due_sees_scheduled_stories_and_retries(store: Store, clock: FakeClock) -> None:
    ledger = Ledger(store)
    assert await ledger.next_due(["all"]) is None
    at = clock() + timedelta(minutes=30)
    await store.add_article(draft(1, publish_at=at))
    assert await ledger.next_due(["all"]) == at


async def test_pause_and_resume(store: Store) -> None:
    assert await store.pause_channel("tg", "bot was kicked")
    assert not await store.pause_channel("tg", "again")  # already paused: alert only once
    assert await store.paused_channels() == {"tg": "bot was kicked"}
    assert await store.resume_channel("tg")
    assert await store.paused_channels() == {}
    await store.set_channel_data("tg", "chat_id", "-100123")
    assert await store.channel_data("tg") == {"chat_id": "-100123"}
