"""The per-recipient send ledger: audience, claims, the owner guard, both ways of recording."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from distributor_channels.email.models import SendStatus, SubscriberStatus
from distributor_channels.email.recorder import SentRecorder
from distributor_channels.email.sendlog import SendLog
from distributor_channels.email.subscribers import Subscribers
from tests.email.world import World


async def test_the_audience_is_fixed_on_the_first_attempt(world: World) -> None:
    await world.subscribe("a@example.org", "b@example.org")
    await world.subscribe("odd@example.org", topics=["100%_real"])
    _message, context = await world.story(tags=["culture"])
    log = SendLog(world.store, context.delivery_id, "w1")
    assert await log.populate("daily", ["culture"]) == 2  # "%" and "_" in topics match nothing
    await world.subscribe("late@example.org")
    assert await log.populate("daily", ["culture"]) == 2
    assert await SendLog(world.store, context.delivery_id, "w1").counts() == {SendStatus.PENDING: 2}


@pytest.mark.parametrize("use_driver", [True, False], ids=["driver", "portable"])
async def test_only_the_owner_records_sent(world: World, use_driver: bool) -> None:
    ids = await world.subscribe("a@example.org", "b@example.org", "c@example.org")
    _message, context = await world.story()
    stale = SendLog(world.store, context.delivery_id, "stale-worker")
    await stale.populate("daily", [])
    claimed, skipped = await stale.claim(10)
    assert [c.address for c in claimed] == ["a@example.org", "b@example.org", "c@example.org"]
    assert skipped == 0
    # The delivery is taken over: the new worker re-opens and claims two of the rows.
    fresh = SendLog(world.store, context.delivery_id, "new-worker")
    assert await fresh.reopen() == 3
    taken, _ = await fresh.claim(2)
    stale_recorder = SentRecorder(stale, use_driver=use_driver)
    fresh_recorder = SentRecorder(fresh, use_driver=use_driver)
    try:
        assert await stale_recorder(list(ids.values())) == set()  # nothing is its own any more
        assert await fresh_recorder([t.subscriber_id for t in taken]) == {
            ids["a@example.org"],
            ids["b@example.org"],
        }
        assert await fresh_recorder([ids["a@example.org"]]) == set()  # recorded once
    finally:
        await stale_recorder.aclose()
        await fresh_recorder.aclose()
    assert await fresh.counts() == {SendStatus.SENT: 2, SendStatus.PENDING: 1}


async def test_readers_who_left_are_skipped_at_the_claim(world: World) -> None:
    ids = await world.subscribe("a@example.org", "b@example.org")
    _message, context = await world.story()
    log = SendLog(world.store, context.delivery_id, "w1")
    await log.populate("daily", [])
    await Subscribers(world.store).unsubscribe(ids["a@example.org"])
    claimed, skipped = await log.claim(10)
    assert [c.address for c in claimed] == ["b@example.org"] and skipped == 1
    reader = await Subscribers(world.store).get(ids["a@example.org"])
    assert reader is not None and reader.status == SubscriberStatus.UNSUBSCRIBED
    assert await log.counts() == {SendStatus.SKIPPED: 1, SendStatus.SENDING: 1}


async def test_the_recorder_hands_its_connection_back_clean(world: World) -> None:
    """The asyncpg path opens its next transaction with each COMMIT and turns
    synchronous_commit off for its session, behind SQLAlchemy's back: both are undone before the
    pool gets it back."""
    ids = await world.subscribe("a@example.org", "b@example.org")
    _message, context = await world.story()
    log = SendLog(world.store, context.delivery_id, "w1")
    await log.populate("daily", [])
    await log.claim(10)
    recorder = SentRecorder(log)
    try:
        assert await recorder([ids["a@example.org"]]) == {ids["a@example.org"]}
        # Seen from another connection: committed, while the recorder holds its next open.
        assert await log.counts() == {SendStatus.SENT: 1, SendStatus.SENDING: 1}
        assert await recorder([ids["b@example.org"]]) == {ids["b@example.org"]}
    finally:
        await recorder.aclose()
    assert await log.counts() == {SendStatus.SENT: 2}  # committed, not left in the open one
    if world.store.dialect != "postgresql":
        return
    engines = world.store.engine
    async with engines.connect() as conn:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        if world.store.engine.dialect.driver == "asyncpg":
            assert driver is not None and not driver.is_in_transaction()
        setting = await conn.exec_driver_sql("SHOW synchronous_commit")
        assert setting.scalar() == "on"


async def test_claims_go_in_order_and_take_back_what_was_given_back(world: World) -> None:
    """Each claim starts after the last reader the previous one reached; giving readers back
    (``release``, or ``reopen`` at a new attempt) starts from the first again."""
    ids = await world.subscribe(*(f"r{i}@example.org" for i in range(5)))
    _message, context = await world.story()
    log = SendLog(world.store, context.delivery_id, "w1")
    await log.populate("daily", [])
    first, _ = await log.claim(2)
    second, _ = await log.claim(2)
    assert [c.address for c in first + second] == [f"r{i}@example.org" for i in range(4)]
    assert await log.release() == 4
    again, _ = await log.claim(10)
    assert len(again) == 5
    recorder = SentRecorder(log)
    try:
        assert await recorder([ids["r3@example.org"]]) == {ids["r3@example.org"]}
    finally:
        await recorder.aclose()
    assert await log.reopen() == 4
    after_reopen, _ = await log.claim(10)
    assert [c.address for c in after_reopen] == [f"r{i}@example.org" for i in (0, 1, 2, 4)]
    assert await log.claim(10) == ([], 0)


async def test_a_readers_moves_touch_no_index_on_postgresql(world: World) -> None:
    """pending → sending → sent change no indexed column, so PostgreSQL keeps each new version
    on the row's page ("HOT"): an index on ``status`` made every move write index entries."""
    if world.store.dialect != "postgresql":
        pytest.skip("HOT updates are PostgreSQL's")
    await world.subscribe("a@example.org", "b@example.org")
    _message, context = await world.story()
    log = SendLog(world.store, context.delivery_id, "w1")
    await log.populate("daily", [])
    moves = [
        "UPDATE email_sends SET status = 'sending', owner = 'w1', attempts = attempts + 1 "
        "WHERE delivery_id = :d",
        "UPDATE email_sends SET status = 'sent', sent_at = updated_at WHERE delivery_id = :d",
    ]
    async with world.store.engine.connect() as conn:
        for move in moves:
            await conn.execute(text(move), {"d": context.delivery_id})
        hot = await conn.scalar(
            text("SELECT pg_stat_get_xact_tuples_hot_updated('email_sends'::regclass)")
        )
        await conn.rollback()
    assert hot == 4


async def test_the_audience_is_analysed_on_postgresql(world: World) -> None:
    """Unanalysed, a new delivery's rows look like a handful to PostgreSQL's planner, which then
    reads every pending row to find each claim's next ones."""
    if world.store.dialect != "postgresql":
        pytest.skip("the planner's statistics are PostgreSQL's")
    await world.subscribe("a@example.org", "b@example.org", "c@example.org")
    _message, context = await world.story()
    assert await SendLog(world.store, context.delivery_id, "w1").populate("daily", []) == 3
    async with world.store.engine.connect() as conn:
        seen = await conn.scalar(
            text("SELECT reltuples FROM pg_class WHERE relname = 'email_sends'")
        )
    assert seen == 3
