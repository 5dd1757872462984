"""Developing stories: an update is posted as a reply to the original's post on each channel.

The service runs against the fake Bot API and the fake Discord API (bot mode).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from distributor.configload import LoadedConfig
from distributor.ledger import Ledger
from distributor.service import Service
from distributor.store import Store
from tests.conftest import FakeClock
from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.discord_fixtures import DISCORD_BOT_TOKEN, DISCORD_CHANNEL_ID
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_fixtures import CHANNEL_ID, TELEGRAM_TOKEN
from tests.helpers import draft, write_config

UNPACED = {"per_bot_per_second": 10**5, "per_group_per_minute": 10**5, "per_chat_per_second": 10**5}


def config(
    tmp_path: Path, store_url: str, telegram: FakeTelegramAPI, discord: FakeDiscordAPI
) -> LoadedConfig:
    data: dict[str, Any] = {
        "version": 1,
        "store": {"url": store_url},
        "channels": [
            {"name": "tg", "platform": "telegram", "token": TELEGRAM_TOKEN,
             "chat": str(CHANNEL_ID), "api_base_url": telegram.base_url, "rates": UNPACED},
            {"name": "dc", "platform": "discord", "mode": "bot", "token": DISCORD_BOT_TOKEN,
             "channel_id": DISCORD_CHANNEL_ID, "api_base_url": discord.api_base},
        ],
    }  # fmt: skip
    return write_config(tmp_path, data)


async def queue(loaded: LoadedConfig, clock: FakeClock, n: int, of: int | None = None) -> int:
    store = await Store.open(loaded.app.store, clock=clock)
    try:
        story = draft(n, publish_at=clock.now, follow_up_of=of)
        return (await store.add_article(story)).article_id
    finally:
        await store.close()


def telegram_replies(fake: FakeTelegramAPI) -> list[int | None]:
    found: list[int | None] = []
    for request in fake.requests:
        if request.method == "sendMessage":
            raw = request.params.get("reply_parameters")
            found.append(json.loads(raw)["message_id"] if raw else None)
    return found


def discord_replies(fake: FakeDiscordAPI) -> list[str | None]:
    found: list[str | None] = []
    for request in fake.requests:
        if request.route == "POST /channels/{channel_id}/messages":
            reference = (request.body or {}).get("message_reference")
            found.append(str(reference["message_id"]) if reference else None)
    return found


async def test_an_update_replies_to_the_original_on_every_channel(
    tmp_path: Path,
    store_url: str,
    clock: FakeClock,
    telegram_api: FakeTelegramAPI,
    discord_api: FakeDiscordAPI,
) -> None:
    loaded = config(tmp_path, store_url, telegram_api, discord_api)
    original = await queue(loaded, clock, 1)
    await Service(loaded, clock=clock, workdir=tmp_path).run_once()
    await queue(loaded, clock, 2, of=original)
    await Service(loaded, clock=clock, workdir=tmp_path).run_once()

    [first, _update] = telegram_api.all_messages()
    assert telegram_replies(telegram_api) == [None, first.message_id]
    [posted, _] = discord_api.messages[DISCORD_CHANNEL_ID].values()
    assert discord_replies(discord_api) == [None, str(posted.id)]


async def test_an_update_of_a_retracted_story_is_a_story_of_its_own(
    tmp_path: Path,
    store_url: str,
    clock: FakeClock,
    telegram_api: FakeTelegramAPI,
    discord_api: FakeDiscordAPI,
) -> None:
    loaded = config(tmp_path, store_url, telegram_api, discord_api)
    original = await queue(loaded, clock, 1)
    await Service(loaded, clock=clock, workdir=tmp_path).run_once()
    store = await Store.open(loaded.app.store, clock=clock)
    try:
        await Ledger(store).retract(original)
    finally:
        await store.close()
    await queue(loaded, clock, 2, of=original)
    await Service(loaded, clock=clock, workdir=tmp_path).run_once()

    assert telegram_replies(telegram_api) == [None, None]
    assert discord_replies(discord_api) == [None, None]
    assert [m.text.split("\n")[0] for m in telegram_api.all_messages()] == ["Story 2"]
