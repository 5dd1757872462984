"""Bursts are paced below Telegram's flood limits: queued, never dropped, never a 429.

The fake enforces Telegram's limits (per group or channel 20/min, 30 sends/s per bot, private
chats about 1/s) with time compressed by ``FloodLimits.scaled(k)``; the adapter's rates are
multiplied by the same ``k``. Each burst also runs once unpaced, to show the fake says no.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio

from distributor import errors
from distributor.pacing import Pacer
from distributor_channels.telegram.adapter import TelegramAdapter
from distributor_channels.telegram.config import TelegramRates
from distributor_channels.telegram.pacing import Spacer, TelegramPacing, token_digest
from tests.fakes.telegram_api import FakeTelegramAPI, FloodLimits
from tests.fakes.telegram_fixtures import (
    CHANNEL_ID,
    PRIVATE_ID,
    TELEGRAM_TOKEN,
    populate_default_chats,
)
from tests.telegram.conftest import MakeAdapter, article, send_context

MANY_CHATS = [-1002000000000 - n for n in range(200)]


def scaled_rates(k: int) -> dict[str, int]:
    """The adapter's default rates (Telegram's limits) with time compressed ``k`` times."""
    rates = TelegramRates()
    return {
        "per_bot_per_second": rates.per_bot_per_second * k,
        "per_group_per_minute": rates.per_group_per_minute * k,
        "per_chat_per_second": rates.per_chat_per_second * k,
    }


UNPACED = {"per_bot_per_second": 10**6, "per_group_per_minute": 10**6, "per_chat_per_second": 10**6}


@pytest_asyncio.fixture
async def flood_api() -> AsyncIterator[Callable[[float], Any]]:
    """Start fakes that enforce the flood limits, scaled ``k`` times."""
    started: list[FakeTelegramAPI] = []

    async def start(k: float) -> FakeTelegramAPI:
        fake = populate_default_chats(
            FakeTelegramAPI(tokens=(TELEGRAM_TOKEN,), flood=FloodLimits().scaled(k))
        )
        for chat_id in MANY_CHATS:
            fake.add_chat(chat_id, type="channel", title=f"Channel {chat_id}")
        await fake.start()
        started.append(fake)
        return fake

    yield start
    for fake in started:
        await fake.stop()


def kind(key: str) -> str:
    return key.split(":")[2]


def test_budgets_per_bot_group_and_chat_are_keyed_without_the_token() -> None:
    pacing = TelegramPacing(TelegramRates(), TELEGRAM_TOKEN, Pacer())
    sends = {b.key: (b.rate.amount, b.rate.seconds) for b in pacing.budgets("send", "@news")}
    digest = token_digest(TELEGRAM_TOKEN)
    assert sends == {
        f"telegram:{digest}:chat:@news": (1, 1),
        # 20/min less the 10 % margin, less the 2 a minute kept for breaking news
        f"telegram:{digest}:group:@news": (16, 60),
        f"telegram:{digest}:bot": (27, 1),
    }
    assert all(TELEGRAM_TOKEN.split(":")[1] not in key for key in sends)
    assert [kind(b.key) for b in pacing.budgets("send", str(PRIVATE_ID))] == ["chat", "bot"]
    assert [kind(b.key) for b in pacing.budgets("edit", "-100123")] == ["chat", "group"]
    assert [kind(b.key) for b in pacing.budgets("delete", "-100123")] == ["chat"]
    spreads = {kind(b.key): round(b.interval, 3) for b in pacing.budgets("send", "@x")}
    assert spreads == {"chat": 1.111, "group": 3.75, "bot": 0.037}


class FakeTime:
    """A clock that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


async def test_spacer_starts_calls_in_order_an_interval_apart() -> None:
    clock = FakeTime()
    spacer = Spacer(clock=clock, sleep=clock.sleep)
    started: list[tuple[int, float]] = []

    async def call(n: int) -> None:
        await spacer.wait("chat", 0.5)
        started.append((n, clock.now))

    await asyncio.gather(*(call(n) for n in range(4)))
    assert started == [(0, 100.0), (1, 100.5), (2, 101.0), (3, 101.5)]


async def test_spacer_measures_from_the_real_start_so_a_stall_is_no_burst() -> None:
    clock = FakeTime()
    spacer = Spacer(clock=clock, sleep=clock.sleep)
    await spacer.wait("bot", 0.1)
    clock.now += 5.0  # the event loop stalled for five seconds
    assert await spacer.wait("bot", 0.1) == 0.0
    assert await spacer.wait("bot", 0.1) == pytest.approx(0.1)  # not at once: a gap again


async def test_spacer_hold_pushes_the_next_start_back() -> None:
    clock = FakeTime()
    spacer = Spacer(clock=clock, sleep=clock.sleep)
    spacer.hold("chat", 3.0)
    assert await spacer.wait("chat", 0.1) == pytest.approx(3.0)


async def _burst_to_one_channel(adapter: TelegramAdapter, count: int) -> int:
    for n in range(count):
        view = article(title=f"Story {n}", article_id=n + 1)
        await adapter.send(adapter.builder.render(view), send_context(n + 1, n + 1))
    return count


async def test_burst_of_200_to_one_channel_gets_no_429(
    flood_api: Callable[[float], Any], make_adapter: MakeAdapter
) -> None:
    k = 200  # 20 posts per 0.3 s on the fake; spaced 16.7 ms apart by the adapter
    fake: FakeTelegramAPI = await flood_api(k)
    adapter = await make_adapter(api_base_url=fake.base_url, rates=scaled_rates(k))
    await _burst_to_one_channel(adapter, 200)

    assert fake.count_status(429) == 0
    assert len(fake.messages[CHANNEL_ID]) == 200
    titles = [m.text.split("\n")[0] for m in fake.all_messages()]
    assert titles == [f"Story {n}" for n in range(200)]  # in order, none dropped


async def test_unpaced_burst_to_one_channel_is_refused(
    flood_api: Callable[[float], Any], make_adapter: MakeAdapter
) -> None:
    # The window must outlast 21 requests even on a loaded machine: 20 posts per 3 s, not per
    # 0.3 s (there, slow requests let the window slide on and more than 20 got through).
    fake: FakeTelegramAPI = await flood_api(20)
    adapter = await make_adapter(api_base_url=fake.base_url, rates=UNPACED)
    with pytest.raises(errors.RateLimited):
        await _burst_to_one_channel(adapter, 200)
    assert fake.count_status(429) == 1
    assert len(fake.messages[CHANNEL_ID]) == 20  # the fake's window: 20 per (60/k) s


async def _burst_to_many_chats(make_adapter: MakeAdapter, base_url: str, rates: Any) -> None:
    pacer = Pacer()  # one service: its adapters share the bot's budget
    adapters = [
        await make_adapter(
            name=f"tg{n}", chat=str(chat), api_base_url=base_url, rates=rates, shared_pacer=pacer
        )
        for n, chat in enumerate(MANY_CHATS)
    ]
    message = adapters[0].builder.render(article())
    try:
        await asyncio.gather(*(a.send(message, send_context()) for a in adapters))
    finally:
        await pacer.aclose()


async def test_burst_to_200_chats_gets_no_429(
    flood_api: Callable[[float], Any], make_adapter: MakeAdapter
) -> None:
    # 30 sends per 0.5 s on the fake; spaced about 18 ms apart by the adapters. A more
    # compressed window (0.1 s) is shorter than the scheduling stalls of a busy 2-CPU machine,
    # which bunch paced requests together on the wire.
    k = 2
    fake: FakeTelegramAPI = await flood_api(k)
    await _burst_to_many_chats(make_adapter, fake.base_url, scaled_rates(k))

    assert fake.count_status(429) == 0
    assert all(len(fake.messages[chat]) == 1 for chat in MANY_CHATS)


async def test_unpaced_burst_to_200_chats_is_refused(
    flood_api: Callable[[float], Any], make_adapter: MakeAdapter
) -> None:
    # Telegram's real window (30 sends in any second): 200 unpaced sends overrun it however
    # slowly the machine serves them; a 0.1 s window could hold the burst spread thin.
    fake: FakeTelegramAPI = await flood_api(1)
    with pytest.raises(errors.RateLimited):
        await _burst_to_many_chats(make_adapter, fake.base_url, UNPACED)
    assert fake.count_status(429) > 0


@pytest.mark.redis
async def test_workers_share_a_chats_budget_through_redis(
    redis_url: str, make_adapter: MakeAdapter
) -> None:
    token = f"777000:AA{secrets.token_hex(16)}"  # fresh pacing keys for this run
    # The fake allows one post per 0.67 s in the channel; each worker alone would post at once.
    fake = populate_default_chats(
        FakeTelegramAPI(tokens=(token,), flood=FloodLimits(per_group_per_minute=1).scaled(90))
    )
    workers = [Pacer.for_redis(redis_url) for _ in range(2)]
    rates = {**UNPACED, "per_chat_per_second": 1}
    async with fake:
        adapters = [
            await make_adapter(token=token, api_base_url=fake.base_url, rates=rates, shared_pacer=w)
            for w in workers
        ]
        message = adapters[0].builder.render(article())
        await asyncio.gather(*(a.send(message, send_context()) for a in adapters))
    for pacer in workers:
        await pacer.aclose()

    assert fake.count_status(429) == 0
    assert len(fake.messages[CHANNEL_ID]) == 2


# Three calls a second in the chat, no margin: the shared window lets three through at once,
# so only the spacer (on a clock that moves when it sleeps) spaces them, 1/3 s apart.
CHAT_PACED = {**UNPACED, "per_chat_per_second": 3, "safety_margin": 0.0}


async def test_a_chat_named_by_username_is_paced_under_one_key_from_the_first_post(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter(chat="@newsroom", rates=CHAT_PACED)
    clock = FakeTime()
    adapter.pacing.spacer = Spacer(clock=clock, sleep=clock.sleep)
    message = adapter.builder.render(article())

    first = await adapter.send(message, send_context(1))
    assert clock.now == 100.0
    await adapter.send(message, send_context(2))  # the chat's id is known by now
    assert clock.now == pytest.approx(100 + 1 / 3)
    await adapter.edit(first.refs, adapter.builder.render(article(title="v2")), send_context(1))
    assert clock.now == pytest.approx(100 + 2 / 3)  # the edit names the chat by its id


async def test_a_restarted_worker_paces_edits_with_the_posts(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter, store: Any
) -> None:
    clock = FakeTime()
    spacer = Spacer(clock=clock, sleep=clock.sleep)
    before = await make_adapter(chat="@newsroom", rates=CHAT_PACED, store=store)
    before.pacing.spacer = spacer
    sent = await before.send(before.builder.render(article()), send_context(1))

    after = await make_adapter(chat="@newsroom", rates=CHAT_PACED, store=store)
    after.pacing.spacer = spacer  # one process's budgets, a new adapter that never posted
    await after.edit(sent.refs, after.builder.render(article(title="v2")), send_context(1))
    assert clock.now == pytest.approx(100 + 1 / 3)
