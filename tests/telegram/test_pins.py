"""Pinning breaking stories on Telegram: at or above ``pin_priority``, quiet when the post is,
never at the cost of the delivery, unpinned after ``pin_hours`` by one worker only.

The adapter runs against the fake Bot API with the store on SQLite and PostgreSQL; time is the
injected clock.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from distributor.adapter import AdapterContext
from distributor.config import AppConfig, StoreConfig
from distributor.models import Operation
from distributor.pacing import Pacer
from distributor.rendering import Renderer
from distributor.send_context import SendContext
from distributor.store import Store
from distributor.types import DeliveryTicket, SendResult
from distributor_channels.telegram.adapter import TelegramAdapter
from distributor_channels.telegram.models import PinStatus, TelegramPin
from distributor_channels.telegram.unpins import LEASE, UnpinWork
from tests.conftest import FakeClock
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_fixtures import CHANNEL_ID, TELEGRAM_TOKEN
from tests.telegram.conftest import MakeAdapter, article, channel_config

PINNING = {"pin_priority": 8, "pin_hours": 6}


def context(
    priority: int, *, delivery_id: int = 1, notify: bool = True, operation: str = "send"
) -> SendContext:
    """A delivery's context: its priority, its quiet-hours notify flag, its operation."""
    ticket = DeliveryTicket(
        delivery_id=delivery_id,
        article_id=delivery_id,
        channel="tg",
        version=1,
        attempt=1,
        priority=priority,
        notify=notify,
        operation=operation,
    )
    return SendContext(ticket)


async def post(adapter: TelegramAdapter, priority: int, **options: Any) -> SendResult:
    n = options.pop("delivery_id", priority)
    message = adapter.builder.render(article(title=f"Story {n}", article_id=n))
    return await adapter.send(message, context(priority, delivery_id=n, **options))


async def pins(store: Store) -> list[TelegramPin]:
    async with store.session() as session:
        return list(await session.scalars(select(TelegramPin).order_by(TelegramPin.id)))


def worker(adapter: TelegramAdapter, store: Store, owner: str) -> UnpinWork:
    config = adapter.settings
    return UnpinWork([config], adapter.core, store, owner)


def unpin_calls(fake: FakeTelegramAPI) -> int:
    return sum(1 for r in fake.requests if r.method == "unpinChatMessage")


# --------------------------------------------------------------------------- configuration
@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"pin_priority": 0}, "pin_priority"),
        ({"pin_priority": 11}, "pin_priority"),
        ({"pin_priority": 8, "pin_hours": 0}, "pin_hours"),
        ({"pin_priority": 8, "pin_hours": -1.5}, "pin_hours"),
        ({"pin_hours": 6}, "pin_hours needs pin_priority"),
    ],
)
def test_pin_settings_are_checked(values: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        channel_config("http://127.0.0.1:9/bot", **values)
    assert channel_config("http://127.0.0.1:9/bot", pin_priority=10, pin_hours=0.5).pin_hours == 0.5


# --------------------------------------------------------------------------- pinning
async def test_a_story_at_or_above_pin_priority_is_pinned_and_one_below_is_not(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter, store: Store, clock: FakeClock
) -> None:
    adapter = await make_adapter(store=store, **PINNING)
    below = await post(adapter, 7)
    at = await post(adapter, 8)
    above = await post(adapter, 10)

    pinned = telegram_api.pins[CHANNEL_ID]
    assert list(pinned) == [int(at.refs[0].message_id), int(above.refs[0].message_id)]
    assert not any(pinned.values())  # the posts rang, so did their pins
    assert below.outcome is None
    assert at.outcome == "pinned until 2026-11-29 15:00 UTC"
    rows = await pins(store)
    assert [(r.chat, r.message_id, r.status) for r in rows] == [
        (str(CHANNEL_ID), at.refs[0].message_id, PinStatus.PINNED),
        (str(CHANNEL_ID), above.refs[0].message_id, PinStatus.PINNED),
    ]
    assert rows[0].unpin_at == clock.now.replace(hour=15)


async def test_a_channel_without_pin_priority_pins_nothing(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    await post(adapter, 10)
    assert telegram_api.pins == {}
    assert all(r.method == "sendMessage" for r in telegram_api.requests)


async def test_a_silent_post_is_pinned_silently(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter(pin_priority=8)  # no store: pinned, no unpin scheduled
    quiet = await post(adapter, 9, notify=False)  # quiet hours, silent mode
    message_id = int(quiet.refs[0].message_id)
    assert telegram_api.messages[CHANNEL_ID][message_id].disable_notification
    assert telegram_api.pins[CHANNEL_ID] == {message_id: True}
    assert quiet.outcome == "pinned"

    muted = await make_adapter(name="tg-muted", pin_priority=8, disable_notification=True)
    always_quiet = await post(muted, 9)
    assert telegram_api.pins[CHANNEL_ID][int(always_quiet.refs[0].message_id)] is True


@pytest.mark.parametrize("refusal", ["rights", "forbidden", "server"])
async def test_a_refused_pin_keeps_the_post_and_says_why(
    refusal: str,
    telegram_api: FakeTelegramAPI,
    make_adapter: MakeAdapter,
    store: Store,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if refusal == "rights":
        telegram_api.deny_pins(CHANNEL_ID)
    elif refusal == "forbidden":
        gone = "Forbidden: bot is not a member of the channel chat"
        telegram_api.fail_next(method="pinChatMessage", status=403, description=gone)
    else:
        telegram_api.fail_next(method="pinChatMessage", status=500)
    adapter = await make_adapter(store=store, **PINNING)
    with caplog.at_level(logging.WARNING, logger="distributor.telegram.pins"):
        result = await post(adapter, 9)

    assert len(telegram_api.messages[CHANNEL_ID]) == 1  # the story is out, once
    assert telegram_api.pins.get(CHANNEL_ID, {}) == {}
    assert result.outcome is not None
    assert result.outcome.startswith("posted, not pinned: ")
    expected = {
        "rights": "not enough rights to manage pinned messages in the chat; give the bot the "
        "right to pin messages",
        "forbidden": "bot is not a member of the channel chat; give the bot the right to pin",
        "server": "internal Server Error",
    }[refusal]
    assert expected in result.outcome
    assert await pins(store) == []  # nothing to unpin
    [warning] = caplog.records
    assert "telegram channel 'tg'" in warning.getMessage()
    assert "not pinned" in warning.getMessage()
    assert TELEGRAM_TOKEN.split(":")[1] not in caplog.text + result.outcome


async def test_a_correction_does_not_pin_again(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter, store: Store
) -> None:
    adapter = await make_adapter(store=store, **PINNING)
    sent = await post(adapter, 9)
    corrected = adapter.builder.render(article(title="Story 9, corrected", article_id=9))
    await adapter.edit(sent.refs, corrected, context(9, operation=Operation.EDIT))

    assert sum(1 for r in telegram_api.requests if r.method == "pinChatMessage") == 1
    assert unpin_calls(telegram_api) == 0
    assert [r.status for r in await pins(store)] == [PinStatus.PINNED]


async def test_a_withdrawal_notice_is_unpinned_and_a_deletion_needs_no_unpin(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter, store: Store
) -> None:
    adapter = await make_adapter(store=store, **PINNING)
    withdrawn = await post(adapter, 9)
    deleted = await post(adapter, 10)
    notice = adapter.builder.render(article(title="Story 9", article_id=9))
    result = await adapter.edit(withdrawn.refs, notice, context(9, operation=Operation.DELETE))
    await adapter.delete(deleted.refs, context(10, operation=Operation.DELETE))

    assert telegram_api.pins[CHANNEL_ID] == {}
    assert telegram_api.unpinned == [(CHANNEL_ID, int(withdrawn.refs[0].message_id))]
    assert "unpinned" in result.note
    assert [r.status for r in await pins(store)] == [PinStatus.UNPINNED, PinStatus.UNPINNED]
    assert unpin_calls(telegram_api) == 1


# --------------------------------------------------------------------------- unpinning
async def test_the_background_job_unpins_after_pin_hours(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter, store: Store, clock: FakeClock
) -> None:
    adapter = await make_adapter(store=store, **PINNING)
    sent = await post(adapter, 9)
    work = worker(adapter, store, "worker-1")
    try:
        clock.advance(hours=5, minutes=59)
        assert await work.run_due() == 0
        assert len(telegram_api.pins[CHANNEL_ID]) == 1
        clock.advance(minutes=1)
        assert await work.run_due() == 1
        assert await work.run_due() == 0  # done is done
    finally:
        await work.aclose()

    assert telegram_api.pins[CHANNEL_ID] == {}
    assert telegram_api.unpinned == [(CHANNEL_ID, int(sent.refs[0].message_id))]
    [row] = await pins(store)
    assert (row.status, row.lease_owner, row.last_error) == (PinStatus.UNPINNED, None, None)


async def test_two_workers_unpin_each_post_once(
    telegram_api: FakeTelegramAPI,
    make_adapter: MakeAdapter,
    store: Store,
    store_url: str,
    clock: FakeClock,
) -> None:
    adapter = await make_adapter(store=store, **PINNING)
    for n in range(5):
        await post(adapter, 9, delivery_id=n + 1)
    clock.advance(hours=7)
    other_store = await Store.open(StoreConfig(url=store_url), clock=clock)
    first, second = worker(adapter, store, "worker-1"), worker(adapter, other_store, "worker-2")
    try:
        done = await asyncio.gather(first.run_due(), second.run_due())
    finally:
        await first.aclose()
        await second.aclose()
        await other_store.close()

    assert sum(done) == 5
    assert unpin_calls(telegram_api) == 5
    assert len(telegram_api.unpinned) == 5
    assert {r.status for r in await pins(store)} == {PinStatus.UNPINNED}


async def test_a_dead_workers_claim_is_taken_over_when_its_lease_runs_out(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter, store: Store, clock: FakeClock
) -> None:
    adapter = await make_adapter(store=store, **PINNING)
    await post(adapter, 9)
    clock.advance(hours=6)
    dead, alive = worker(adapter, store, "dead"), worker(adapter, store, "alive")
    try:
        assert len(await dead._claim()) == 1  # claimed, then the worker died
        assert await alive.run_due() == 0
        clock.advance(seconds=LEASE.total_seconds() + 1)
        assert await alive.run_due() == 1
    finally:
        await dead.aclose()
        await alive.aclose()
    assert unpin_calls(telegram_api) == 1
    assert telegram_api.pins[CHANNEL_ID] == {}


async def test_a_post_no_longer_pinned_counts_as_unpinned(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter, store: Store, clock: FakeClock
) -> None:
    adapter = await make_adapter(store=store, **PINNING)
    await post(adapter, 9)
    telegram_api.pins[CHANNEL_ID].clear()  # an admin unpinned it by hand
    clock.advance(hours=6)
    work = worker(adapter, store, "worker-1")
    try:
        assert await work.run_due() == 1
    finally:
        await work.aclose()
    [row] = await pins(store)
    assert (row.status, row.last_error) == (PinStatus.UNPINNED, "already unpinned or gone")


async def test_an_unpin_that_fails_waits_and_a_refused_one_is_recorded(
    telegram_api: FakeTelegramAPI,
    make_adapter: MakeAdapter,
    store: Store,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    adapter = await make_adapter(store=store, **PINNING)
    await post(adapter, 9)
    clock.advance(hours=6)
    telegram_api.fail_next(method="unpinChatMessage", status=502)
    work = worker(adapter, store, "worker-1")
    try:
        assert await work.run_due() == 0
        [row] = await pins(store)
        assert (row.status, row.attempts) == (PinStatus.PINNED, 1)
        assert row.unpin_at == clock.now + timedelta(minutes=1)
        assert await work.run_due() == 0  # not due again before its back-off
        clock.advance(minutes=1)
        telegram_api.deny_pins(CHANNEL_ID)
        with caplog.at_level(logging.WARNING, logger="distributor.telegram.unpins"):
            assert await work.run_due() == 1
    finally:
        await work.aclose()
    [row] = await pins(store)
    assert row.status == PinStatus.FAILED
    assert row.last_error is not None
    assert "not enough rights to manage pinned messages" in row.last_error
    assert "could not unpin" in caplog.text and "'tg'" in caplog.text


async def test_background_hook_needs_a_store_and_live_channels(
    telegram_api: FakeTelegramAPI, tmp_path: Path, store: Store, clock: FakeClock
) -> None:
    from distributor_channels.telegram import unpins

    live = channel_config(telegram_api.base_url, **PINNING)
    dry = channel_config(telegram_api.base_url, name="tg-dry", dry_run=True)
    context_ = AdapterContext(
        app=AppConfig(version=1, channels=[live, dry]),
        renderer=Renderer(),
        clock=clock,
        outbox_dir=tmp_path,
        pacer=Pacer(),
        store=store,
    )
    work = unpins.background(context_, "worker-1", False)
    assert work is not None
    assert list(work.channels) == ["tg"]
    assert unpins.background(context_, "worker-1", True) is None
    no_store = AdapterContext(context_.app, context_.renderer, clock, tmp_path, context_.pacer)
    assert unpins.background(no_store, "worker-1", False) is None
    await context_.pacer.aclose()
