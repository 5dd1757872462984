"""The breaking-news lane: a priority story overtakes a backlog that waits on the flood limit.

Claiming (the ledger), the dispatcher's breaking pass beside a busy tick, and Telegram's
pacing, which keeps part of each channel's budget free for breaking stories.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from distributor import wakeup
from distributor.config import StoreConfig
from distributor.ledger import Ledger
from distributor.pacing import Pacer
from distributor.send_context import SendContext
from distributor.service import Service
from distributor.store import Store
from distributor.types import DeliveryTicket
from distributor_channels.telegram.config import TelegramChannelConfig, TelegramRates
from distributor_channels.telegram.pacing import TelegramPacing
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_fixtures import CHANNEL_ID, TELEGRAM_TOKEN
from tests.telegram.conftest import MakeAdapter, article, send_context
from tests.telegram.test_dispatch import STORY, write_config
from tests.telegram.test_pacing import flood_api, scaled_rates

__all__ = ["flood_api"]  # the fixture, shared with the pacing tests


def kind(key: str) -> str:
    return ":".join(key.split(":")[2:3] + key.split(":")[4:])


def test_a_channels_budget_is_split_between_the_backlog_and_breaking_news() -> None:
    pacing = TelegramPacing(TelegramRates(), TELEGRAM_TOKEN, Pacer())
    usual = {kind(b.key): b.rate.amount for b in pacing.budgets("send", "@news")}
    lane = {kind(b.key): b.rate.amount for b in pacing.budgets("send", "@news", breaking=True)}
    assert usual == {"chat": 1, "group": 16, "bot": 27}  # 18 a minute less the 2 kept
    assert lane == {"chat": 1, "group:breaking": 2, "bot": 27}
    # Without a lane, breaking calls wait their turn with the others.
    closed = TelegramPacing(TelegramRates(breaking_per_minute=0), TELEGRAM_TOKEN, Pacer())
    assert {kind(b.key): b.rate.amount for b in closed.budgets("send", "@news", breaking=True)} == {
        "chat": 1,
        "group": 18,
        "bot": 27,
    }


def test_the_lane_always_leaves_room_for_other_posts() -> None:
    rates = TelegramRates(per_group_per_minute=5, safety_margin=0.0, breaking_per_minute=9)
    pacing = TelegramPacing(rates, TELEGRAM_TOKEN, Pacer())
    usual = {kind(b.key): b.rate.amount for b in pacing.budgets("send", "@news")}
    lane = {kind(b.key): b.rate.amount for b in pacing.budgets("send", "@news", breaking=True)}
    assert (usual["group"], lane["group:breaking"]) == (1, 4)
    # A channel paced at one post a minute has no lane: breaking stories wait their turn.
    single = TelegramPacing(
        TelegramRates(per_group_per_minute=1, safety_margin=0.0), TELEGRAM_TOKEN, Pacer()
    )
    assert {kind(b.key): b.rate.amount for b in single.budgets("send", "@news", breaking=True)} == {
        "chat": 1,
        "group": 1,
        "bot": 30,
    }


def breaking_context(n: int) -> SendContext:
    ticket = DeliveryTicket(
        delivery_id=n, article_id=n, channel="tg", version=1, attempt=1, priority=10, breaking=True
    )
    return SendContext(ticket)


async def test_a_breaking_send_overtakes_a_paced_backlog_without_a_429(
    flood_api: Callable[[float], Any], make_adapter: MakeAdapter
) -> None:
    k = 200  # the fake allows 20 posts per 0.3 s; the backlog is paced to fit
    fake: FakeTelegramAPI = await flood_api(k)
    rates = {**scaled_rates(k), "breaking_per_minute": 2 * k}
    adapter = await make_adapter(api_base_url=fake.base_url, rates=rates, chat=str(CHANNEL_ID))

    async def backlog(n: int) -> None:
        view = article(title=f"Backlog {n}", article_id=n + 1)
        await adapter.send(adapter.builder.render(view), send_context(n + 1, n + 1))

    waiting = [asyncio.create_task(backlog(n)) for n in range(80)]
    while len(fake.messages[CHANNEL_ID]) < 3:
        await asyncio.sleep(0.001)
    view = article(title="Breaking", article_id=1000)
    await adapter.send(adapter.builder.render(view), breaking_context(1000))
    await asyncio.gather(*waiting)

    titles = [m.text.split("\n")[0] for m in fake.all_messages()]
    assert fake.count_status(429) == 0
    assert len(titles) == 81
    assert titles.index("Breaking") < 20  # not behind the 77 backlog posts still waiting
    assert sorted(titles) == sorted(["Breaking", *(f"Backlog {n}" for n in range(80))])


async def test_ledger_claims_only_breaking_rows_for_the_lane(store: Store) -> None:
    ledger = Ledger(store)
    due = replace(STORY, publish_at=store.clock())
    quiet = (await store.add_article(replace(due, title="Quiet", url=None))).article_id
    loud = (await store.add_article(replace(due, title="Loud", url=None, priority=10))).article_id
    config = TelegramChannelConfig(name="tg", platform="telegram", chat="@newsroom", dry_run=True)
    assert await ledger.route_due([config], min_priority=8) == [loud]  # the lane's routing
    assert await ledger.route_due([config]) == [quiet]
    claimed = await ledger.claim("w", ["tg"], 10, 60, min_priority=8)
    assert [d.article_id for d in claimed] == [loud]
    rest = await ledger.claim("w", ["tg"], 10, 60)
    assert [d.article_id for d in rest] == [quiet]


async def test_breaking_pass_sends_while_the_tick_waits_on_the_channels_limit(
    telegram_api: FakeTelegramAPI, store_url: str, tmp_path: Path
) -> None:
    # Telegram's real rate: the backlog's second post waits seconds for the channel's budget.
    loaded = write_config(tmp_path, store_url, telegram_api.base_url)
    store = await Store.open(StoreConfig(url=store_url))
    try:
        for n in range(4):
            await store.add_article(replace(STORY, title=f"Backlog {n}", url=None))
    finally:
        await store.close()
    service = Service(loaded, workdir=tmp_path)
    dispatcher = await service.start()
    tick = asyncio.create_task(dispatcher.tick())
    try:
        # Two: the first post names the chat "@newsroom", later ones by the id it learnt.
        while len(telegram_api.messages[CHANNEL_ID]) < 2:
            await asyncio.sleep(0.005)
        breaking = replace(STORY, title="Breaking", url=None, priority=10)
        article_id = (await dispatcher.store.add_article(breaking)).article_id
        report = await dispatcher.breaking_tick()

        assert not tick.done()  # the backlog still waits on the channel's limit
        assert report.claimed == 2 and report.done == 2  # both channels of the config
        titles = [m.text.split("\n")[0] for m in telegram_api.messages[CHANNEL_ID].values()]
        assert titles == ["Backlog 0", "Backlog 1", "Breaking"]
        statuses = {d.status for d in await dispatcher.store.deliveries_for([article_id])}
        assert statuses == {"sent"}
    finally:
        tick.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tick
        await service.close()


async def test_running_service_sends_a_breaking_story_while_its_tick_holds_a_backlog(
    telegram_api: FakeTelegramAPI, store_url: str, tmp_path: Path
) -> None:
    loaded = write_config(tmp_path, store_url, telegram_api.base_url)
    store = await Store.open(StoreConfig(url=store_url))
    for n in range(6):
        await store.add_article(replace(STORY, title=f"Backlog {n}", url=None))
    service = Service(loaded, workdir=tmp_path)
    stop = asyncio.Event()
    running = asyncio.create_task(service.run_forever(stop))
    try:
        while len(telegram_api.messages[CHANNEL_ID]) < 2:
            await asyncio.sleep(0.005)
        await store.add_article(replace(STORY, title="Breaking", url=None, priority=10))
        await wakeup.notify(store)  # what `distributor queue` does
        async with asyncio.timeout(30):  # a bound on a hang, not a measurement
            while "Breaking" not in titles(telegram_api):
                await asyncio.sleep(0.005)
        assert titles(telegram_api) == ["Backlog 0", "Backlog 1", "Breaking"]
    finally:
        stop.set()
        await running
        await store.close()


def titles(fake: FakeTelegramAPI) -> list[str]:
    return [m.text.split("\n")[0] for m in fake.messages[CHANNEL_ID].values()]
