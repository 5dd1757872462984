"""Digests end to end against the fake Bot API, with the injected clock (no sleeping).

The clock starts on 29 November 2026 at 09:00 UTC; the digest is scheduled at 07:00 daily.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from distributor.configload import LoadedConfig
from distributor.ledger import Ledger
from distributor.models import Delivery, DigestRun
from distributor.service import Service
from distributor.store import Store
from tests.conftest import FakeClock
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_fixtures import CHANNEL_ID, TELEGRAM_TOKEN
from tests.helpers import draft, write_config

UNPACED = {"per_bot_per_second": 10**5, "per_group_per_minute": 10**5, "per_chat_per_second": 10**5}


def config(
    tmp_path: Path, store_url: str, telegram: FakeTelegramAPI, **digest: Any
) -> LoadedConfig:
    data: dict[str, Any] = {
        "version": 1,
        "timezone": "UTC",
        "store": {"url": store_url},
        "channels": [
            {"name": "tg", "platform": "telegram", "token": TELEGRAM_TOKEN,
             "chat": str(CHANNEL_ID), "api_base_url": telegram.base_url, "rates": UNPACED,
             "digest": {"schedule": "0 7 * * *", "title": "Morning briefing", "mode": "digest",
                        **digest}},
        ],
    }  # fmt: skip
    return write_config(tmp_path, data)


async def queue(loaded: LoadedConfig, clock: FakeClock, n: int, priority: int = 0) -> None:
    store = await Store.open(loaded.app.store, clock=clock)
    try:
        await store.add_article(draft(n, publish_at=clock.now, priority=priority))
        await Ledger(store).route_due(loaded.app.channels)
    finally:
        await store.close()


async def digest_rows(loaded: LoadedConfig, clock: FakeClock) -> list[tuple[str, str, int]]:
    store = await Store.open(loaded.app.store, clock=clock)
    try:
        async with store.session() as session:
            rows = (await session.scalars(select(DigestRun).order_by(DigestRun.window_start))).all()
            deliveries = (await session.scalars(select(Delivery))).all()
        assert deliveries == []  # a digest-only channel gets no post per story
        return [(r.window_end.strftime("%d %H:%M"), r.status.value, r.items) for r in rows]
    finally:
        await store.close()


async def run_digests(loaded: LoadedConfig, clock: FakeClock) -> list[str]:
    service = Service(loaded, clock=clock, workdir=loaded.path.parent)
    await service.start()
    try:
        return [o.status for o in await service.send_digests()]
    finally:
        await service.close()


async def test_each_window_gets_one_digest_listing_its_stories_priority_then_newest(
    tmp_path: Path, store_url: str, clock: FakeClock, telegram_api: FakeTelegramAPI
) -> None:
    loaded = config(tmp_path, store_url, telegram_api)
    assert await run_digests(loaded, clock) == []  # the first window starts at 07:00 today
    await queue(loaded, clock, 1, priority=0)
    clock.advance(hours=1)
    await queue(loaded, clock, 2, priority=0)
    await queue(loaded, clock, 3, priority=5)
    clock.now = datetime(2026, 11, 30, 6, 59, tzinfo=UTC)
    assert await run_digests(loaded, clock) == []  # not yet 07:00
    clock.advance(minutes=2)
    assert await run_digests(loaded, clock) == ["sent"]
    assert await run_digests(loaded, clock) == []
    await queue(loaded, clock, 4)  # after 07:00: the next window's
    messages = telegram_api.all_messages()
    assert len(messages) == 1
    lines = messages[0].text.split("\n")
    assert lines[0] == "Morning briefing"
    titles = [line for line in lines if line.startswith("• ")]
    assert titles == ["• Story 3", "• Story 2", "• Story 1"]
    assert "First sentence of the story." in messages[0].text
    assert await digest_rows(loaded, clock) == [("29 07:00", "empty", 0), ("30 07:00", "sent", 3)]


async def test_a_window_missed_while_down_is_sent_once_on_return(
    tmp_path: Path, store_url: str, clock: FakeClock, telegram_api: FakeTelegramAPI
) -> None:
    loaded = config(tmp_path, store_url, telegram_api)
    await run_digests(loaded, clock)
    await queue(loaded, clock, 1)
    clock.now = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)  # down over three scheduled times
    await queue(loaded, clock, 2)  # after the last one: the next window's
    assert await run_digests(loaded, clock) == ["sent"]
    assert await run_digests(loaded, clock) == []
    assert len(telegram_api.all_messages()) == 1
    assert "Story 2" not in telegram_api.all_messages()[0].text
    assert (await digest_rows(loaded, clock))[-1] == ("02 07:00", "sent", 1)


async def test_two_workers_send_one_digest_per_window(
    tmp_path: Path, store_url: str, clock: FakeClock, telegram_api: FakeTelegramAPI
) -> None:
    loaded = config(tmp_path, store_url, telegram_api)
    await run_digests(loaded, clock)
    await queue(loaded, clock, 1)
    clock.now = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    workers = [Service(loaded, clock=clock, workdir=tmp_path) for _ in range(2)]
    for worker in workers:
        await worker.start()
    try:
        results = await asyncio.gather(*(w.send_digests() for w in workers))
    finally:
        for worker in workers:
            await worker.close()
    assert sorted(o.status for r in results for o in r) == ["sent"]
    assert len(telegram_api.all_messages()) == 1


async def test_a_digest_left_by_a_dead_worker_is_sent_after_its_lease(
    tmp_path: Path, store_url: str, clock: FakeClock, telegram_api: FakeTelegramAPI
) -> None:
    loaded = config(tmp_path, store_url, telegram_api)
    await run_digests(loaded, clock)
    await queue(loaded, clock, 1)
    clock.now = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    dead = Service(loaded, clock=clock, workdir=tmp_path)
    await dead.start()
    try:
        digests = dead._started().digests
        assert digests is not None
        await digests.open_due(loaded.app.channel("tg"))
        assert len(await digests._claim("tg")) == 1  # claimed, then the worker "dies"
    finally:
        await dead.close()
    assert await run_digests(loaded, clock) == []  # the lease still holds
    clock.advance(seconds=loaded.app.dispatch.lease_seconds + 1)
    assert await run_digests(loaded, clock) == ["sent"]
    assert len(telegram_api.all_messages()) == 1


async def test_an_empty_window_is_skipped_or_posted_as_configured(
    tmp_path: Path, store_url: str, clock: FakeClock, telegram_api: FakeTelegramAPI
) -> None:
    skip = config(tmp_path, store_url, telegram_api)
    await run_digests(skip, clock)
    clock.now = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    assert await run_digests(skip, clock) == ["empty"]
    assert telegram_api.all_messages() == []
    post = config(tmp_path, store_url, telegram_api, empty="post")
    clock.now = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
    assert await run_digests(post, clock) == ["sent"]
    assert "Nothing new since the last digest." in telegram_api.all_messages()[0].text


async def test_send_now_sends_at_once_and_starts_a_new_window(
    tmp_path: Path, store_url: str, clock: FakeClock, telegram_api: FakeTelegramAPI
) -> None:
    loaded = config(tmp_path, store_url, telegram_api, mode="both")
    await queue(loaded, clock, 1)
    clock.advance(minutes=5)
    service = Service(loaded, clock=clock, workdir=tmp_path)
    await service.start()
    try:
        digests = service._started().digests
        assert digests is not None
        outcome = await digests.send_now(loaded.app.channel("tg"))
        assert (outcome.status, outcome.items) == ("sent", 1)
    finally:
        await service.close()
    await queue(loaded, clock, 2)
    clock.now = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    assert await run_digests(loaded, clock) == ["sent"]
    digests_sent = [m.text for m in telegram_api.all_messages() if "Morning" in m.text]
    assert len(digests_sent) == 2
    assert "Story 1" in digests_sent[0] and "Story 1" not in digests_sent[1]
    assert "Story 2" in digests_sent[1]
