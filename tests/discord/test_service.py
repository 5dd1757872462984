"""End to end: queued stories go through the service to live Discord channels on the fake.

Runs on SQLite and PostgreSQL (the ``store_url`` fixture).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distributor.configload import LoadedConfig
from distributor.models import Delivery, DeliveryStatus
from distributor.service import Service
from distributor.store import Store
from tests.conftest import FakeClock
from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.discord_fixtures import (
    DISCORD_BOT_TOKEN,
    DISCORD_CHANNEL_ID,
    DISCORD_WEBHOOK_URL,
)
from tests.helpers import draft, write_config

EXECUTE_WEBHOOK = "POST /webhooks/{webhook_id}/{webhook_token}"
POST_MESSAGES = "POST /channels/{channel_id}/messages"
BOT_CHANNEL_ID = 1187402731185881200
ALERTS_CHANNEL_ID = 1187402731185881300


def add_channels(fake: FakeDiscordAPI, *, bot_can_send: bool = True) -> str:
    """The bot's story channel, and an admins' channel with its own webhook (its URL)."""
    fake.add_channel(BOT_CHANNEL_ID, name="bot-news", bot_can_send=bot_can_send)
    fake.add_channel(ALERTS_CHANNEL_ID, name="admins")
    return fake.add_webhook(ALERTS_CHANNEL_ID, name="Alerts").url


def discord_config(
    store_url: str, tmp_path: Path, fake: FakeDiscordAPI, alerts_url: str, **hook: Any
) -> LoadedConfig:
    data: dict[str, Any] = {
        "version": 1,
        "store": {"url": store_url},
        "outbox_dir": str(tmp_path / "outbox"),
        "alerts": {"channel": "admin-alerts"},
        "channels": [
            {
                "name": "discord-hook",
                "platform": "discord",
                "mode": "webhook",
                "webhook_url": DISCORD_WEBHOOK_URL,
                "api_base_url": fake.api_base,
                "source_name": "Example Newsroom",
                **hook,
            },
            {
                "name": "discord-bot",
                "platform": "discord",
                "mode": "bot",
                "token": DISCORD_BOT_TOKEN,
                "channel_id": BOT_CHANNEL_ID,
                "api_base_url": fake.api_base,
            },
            {
                "name": "admin-alerts",
                "platform": "discord",
                "webhook_url": alerts_url,
                "api_base_url": fake.api_base,
            },
        ],
    }
    return write_config(tmp_path, data)


async def queue_story(loaded: LoadedConfig, clock: FakeClock, n: int = 1) -> int:
    store = await Store.open(loaded.app.store, clock=clock)
    try:
        return (await store.add_article(draft(n, publish_at=clock.now))).article_id
    finally:
        await store.close()


async def rows(loaded: LoadedConfig, clock: FakeClock) -> dict[str, Delivery]:
    store = await Store.open(loaded.app.store, clock=clock)
    try:
        articles = await store.recent_articles()
        return {d.channel: d for d in await store.deliveries_for([a.id for a in articles])}
    finally:
        await store.close()


async def paused(loaded: LoadedConfig, clock: FakeClock) -> dict[str, str]:
    store = await Store.open(loaded.app.store, clock=clock)
    try:
        return await store.paused_channels()
    finally:
        await store.close()


async def resume(loaded: LoadedConfig, clock: FakeClock, channel: str) -> None:
    store = await Store.open(loaded.app.store, clock=clock)
    try:
        await store.resume_channel(channel)
    finally:
        await store.close()


def run_once(loaded: LoadedConfig, clock: FakeClock, tmp_path: Path) -> Service:
    return Service(loaded, clock=clock, workdir=tmp_path)


async def test_story_arrives_and_missing_permissions_pauses_only_that_channel(
    store_url: str, tmp_path: Path, clock: FakeClock, fake: FakeDiscordAPI
) -> None:
    alerts_url = add_channels(fake, bot_can_send=False)
    loaded = discord_config(store_url, tmp_path, fake, alerts_url)
    await queue_story(loaded, clock)

    report = await run_once(loaded, clock, tmp_path).run_once()

    assert report.done == 1
    [story] = fake.messages[DISCORD_CHANNEL_ID].values()
    assert story.embeds[0]["title"] == "Story 1"
    [alert] = fake.messages[ALERTS_CHANNEL_ID].values()
    assert alert.embeds[0]["title"] == "⚠ channel discord-bot paused"
    assert "Missing Permissions" in alert.embeds[0]["description"]
    reasons = await paused(loaded, clock)
    assert list(reasons) == ["discord-bot"]
    assert reasons["discord-bot"].startswith(
        "discord channel 'discord-bot': send failed: Missing Permissions [code 50013]"
    )
    deliveries = await rows(loaded, clock)
    assert deliveries["discord-hook"].status == DeliveryStatus.SENT
    assert deliveries["discord-hook"].refs[0]["message_id"] == str(story.id)
    assert deliveries["discord-bot"].status == DeliveryStatus.PENDING
    assert deliveries["discord-bot"].attempts == 0  # a paused channel spends no attempt

    # The admin fixes the permission and resumes the channel: the story goes out there too.
    fake.set_permissions(BOT_CHANNEL_ID, bot_can_send=True)
    await resume(loaded, clock, "discord-bot")
    assert (await run_once(loaded, clock, tmp_path).run_once()).done == 1
    [posted] = fake.messages[BOT_CHANNEL_ID].values()
    assert posted.embeds[0]["title"] == "Story 1"
    assert (await rows(loaded, clock))["discord-bot"].status == DeliveryStatus.SENT


async def test_bot_retry_through_the_dispatcher_posts_once(
    store_url: str, tmp_path: Path, clock: FakeClock, fake: FakeDiscordAPI
) -> None:
    loaded = discord_config(store_url, tmp_path, fake, add_channels(fake))
    await queue_story(loaded, clock)
    fake.fail_next(route=POST_MESSAGES, status=500, then_process=True)

    await run_once(loaded, clock, tmp_path).run_once()
    assert (await rows(loaded, clock))["discord-bot"].status == DeliveryStatus.PENDING
    clock.advance(minutes=2)
    await run_once(loaded, clock, tmp_path).run_once()

    assert (await rows(loaded, clock))["discord-bot"].status == DeliveryStatus.SENT
    assert len(fake.messages[BOT_CHANNEL_ID]) == 1
    assert fake.nonce_hits == 1


async def test_webhook_in_doubt_skip_policy_never_posts_twice(
    store_url: str, tmp_path: Path, clock: FakeClock, fake: FakeDiscordAPI
) -> None:
    loaded = discord_config(store_url, tmp_path, fake, add_channels(fake), in_doubt="skip")
    await queue_story(loaded, clock)
    fake.fail_next(route=EXECUTE_WEBHOOK, status=500, then_process=True)

    await run_once(loaded, clock, tmp_path).run_once()
    clock.advance(hours=1)
    await run_once(loaded, clock, tmp_path).run_once()

    hook = (await rows(loaded, clock))["discord-hook"]
    assert hook.status == DeliveryStatus.SKIPPED
    assert "in doubt" in (hook.last_error or "")
    assert [m.embeds[0]["title"] for m in fake.messages[DISCORD_CHANNEL_ID].values()] == ["Story 1"]


async def test_webhook_in_doubt_resend_policy_may_post_twice(
    store_url: str, tmp_path: Path, clock: FakeClock, fake: FakeDiscordAPI
) -> None:
    """What the docs promise for ``resend`` (the default): at least once, so maybe twice."""
    loaded = discord_config(store_url, tmp_path, fake, add_channels(fake))
    await queue_story(loaded, clock)
    fake.fail_next(route=EXECUTE_WEBHOOK, status=500, then_process=True)

    await run_once(loaded, clock, tmp_path).run_once()
    clock.advance(hours=1)
    await run_once(loaded, clock, tmp_path).run_once()

    assert (await rows(loaded, clock))["discord-hook"].status == DeliveryStatus.SENT
    titles = [m.embeds[0]["title"] for m in fake.messages[DISCORD_CHANNEL_ID].values()]
    assert titles == ["Story 1", "Story 1"]
