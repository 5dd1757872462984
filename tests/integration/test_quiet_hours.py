"""Quiet hours end to end: held posts wait for the window's end, silent ones ring no bell.

The service runs against the fake Bot API and the fake Discord API with an injected clock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distributor.configload import LoadedConfig
from distributor.models import DeliveryStatus
from distributor.service import Service
from distributor.store import Store
from tests.conftest import FakeClock
from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.discord_fixtures import DISCORD_CHANNEL_ID, DISCORD_WEBHOOK_URL
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_fixtures import CHANNEL_ID, TELEGRAM_TOKEN
from tests.helpers import draft, write_config

UNPACED = {"per_bot_per_second": 10**5, "per_group_per_minute": 10**5, "per_chat_per_second": 10**5}


def config(
    tmp_path: Path, store_url: str, telegram: FakeTelegramAPI, discord: FakeDiscordAPI, mode: str
) -> LoadedConfig:
    # The clock reads 09:00 UTC: inside a window from 08:00 to 10:00.
    quiet = {"from": "08:00", "to": "10:00", "bypass_priority": 8, "mode": mode}
    data: dict[str, Any] = {
        "version": 1,
        "timezone": "UTC",
        "store": {"url": store_url},
        "channels": [
            {"name": "tg", "platform": "telegram", "token": TELEGRAM_TOKEN,
             "chat": str(CHANNEL_ID), "api_base_url": telegram.base_url, "rates": UNPACED,
             "quiet_hours": quiet},
            {"name": "dc", "platform": "discord", "mode": "webhook",
             "webhook_url": DISCORD_WEBHOOK_URL, "api_base_url": discord.api_base,
             "quiet_hours": quiet},
        ],
    }  # fmt: skip
    return write_config(tmp_path, data)


async def queue(loaded: LoadedConfig, clock: FakeClock, n: int, priority: int = 0) -> int:
    store = await Store.open(loaded.app.store, clock=clock)
    try:
        story = draft(n, publish_at=clock.now, priority=priority)
        return (await store.add_article(story)).article_id
    finally:
        await store.close()


async def statuses(loaded: LoadedConfig, clock: FakeClock) -> list[tuple[int, str, str]]:
    store = await Store.open(loaded.app.store, clock=clock)
    try:
        ids = [a.id for a in await store.recent_articles()]
        rows = await store.deliveries_for(ids)
        return sorted((d.article_id, d.channel, d.status) for d in rows)
    finally:
        await store.close()


def telegram_titles(fake: FakeTelegramAPI) -> list[str]:
    return [m.text.split("\n")[0] for m in fake.all_messages()]


def silenced(fake: FakeTelegramAPI) -> list[bool]:
    return [r.params.get("disable_notification", "").lower() == "true" for r in fake.requests]


async def test_hold_keeps_posts_until_the_window_ends_then_sends_them_in_order(
    tmp_path: Path,
    store_url: str,
    clock: FakeClock,
    telegram_api: FakeTelegramAPI,
    discord_api: FakeDiscordAPI,
) -> None:
    loaded = config(tmp_path, store_url, telegram_api, discord_api, "hold")
    first, second = await queue(loaded, clock, 1), await queue(loaded, clock, 2)
    urgent = await queue(loaded, clock, 3, priority=9)

    await Service(loaded, clock=clock, workdir=tmp_path).run_once()
    assert telegram_titles(telegram_api) == ["Story 3"]  # the bypass, with notifications on
    assert silenced(telegram_api) == [False]
    [bypass] = discord_api.messages[DISCORD_CHANNEL_ID].values()
    assert bypass.flags == 0
    assert (urgent, "tg", DeliveryStatus.SENT) in await statuses(loaded, clock)
    assert (first, "tg", DeliveryStatus.PENDING) in await statuses(loaded, clock)

    clock.advance(minutes=59, seconds=59)  # 09:59:59: still quiet, nothing is due
    await Service(loaded, clock=clock, workdir=tmp_path).run_once()
    assert telegram_titles(telegram_api) == ["Story 3"]

    clock.advance(seconds=1)  # 10:00: the window has closed
    await Service(loaded, clock=clock, workdir=tmp_path).run_once()
    assert telegram_titles(telegram_api) == ["Story 3", "Story 1", "Story 2"]
    assert silenced(telegram_api) == [False, False, False]
    assert len(discord_api.messages[DISCORD_CHANNEL_ID]) == 3
    assert {s for a, _, s in await statuses(loaded, clock) if a in (first, second)} == {
        DeliveryStatus.SENT
    }


async def test_silent_posts_at_once_without_notifications_except_the_bypass(
    tmp_path: Path,
    store_url: str,
    clock: FakeClock,
    telegram_api: FakeTelegramAPI,
    discord_api: FakeDiscordAPI,
) -> None:
    loaded = config(tmp_path, store_url, telegram_api, discord_api, "silent")
    await queue(loaded, clock, 1)
    await queue(loaded, clock, 2, priority=8)

    await Service(loaded, clock=clock, workdir=tmp_path).run_once()

    assert telegram_titles(telegram_api) == ["Story 2", "Story 1"]  # priority first
    assert silenced(telegram_api) == [False, True]
    flags = {
        m.embeds[0]["title"]: m.flags for m in discord_api.messages[DISCORD_CHANNEL_ID].values()
    }
    assert flags == {"Story 1": 4096, "Story 2": 0}  # Discord's SUPPRESS_NOTIFICATIONS
