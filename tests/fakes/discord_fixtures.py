"""Pytest fixtures for the fake Discord API (listed in the root conftest's ``pytest_plugins``).

The ids and tokens are fixed constants so tests can build channel configs without
reaching into the fake. They look like real Discord values: discord.py's
``Webhook.from_url`` refuses anything that is not ``discord.com/api/webhooks/<id>/<token>``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import discord.http
import pytest_asyncio

from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.discord_models import WEBHOOK_URL_BASE
from tests.fakes.discord_state import DEFAULT_GUILD_ID

DISCORD_GUILD_ID = DEFAULT_GUILD_ID
DISCORD_CHANNEL_ID = 1187402731185881091
DISCORD_WEBHOOK_ID = 1187402731185881092
DISCORD_BOT_USER_ID = 1187402731185881093
DISCORD_APPLICATION_ID = DISCORD_BOT_USER_ID
DISCORD_BOT_NAME = "newsbot"
# Shaped like a real token (base64 user id . timestamp . HMAC) but never valid anywhere.
DISCORD_BOT_TOKEN = "MTE4NzQwMjczMTE4NTg4MTA5Mw.GxF4kQ.hDeOZIiBOB_Y6sHrFH2ZUCr_lgotu2iXW7GboI"
DISCORD_WEBHOOK_NAME = "News"
DISCORD_WEBHOOK_TOKEN = "odJFCrnl2edlBDdz1C5Jau2RJtBRnlWmTSHf6pWkLUyifDLkDmWJ6UuVTAIjvFu7WICP"
DISCORD_WEBHOOK_URL = f"{WEBHOOK_URL_BASE}/{DISCORD_WEBHOOK_ID}/{DISCORD_WEBHOOK_TOKEN}"


@contextmanager
def discord_py_pointed_at(fake: FakeDiscordAPI) -> Iterator[None]:
    """Send every discord.py request (bot and webhook) to ``fake`` while in the block.

    ``Route.url`` is computed when a Route is built, so this must wrap the calls, and the
    previous base is restored afterwards so other tests still see the real one.
    """
    previous = discord.http.Route.BASE
    discord.http.Route.BASE = fake.api_base
    try:
        yield
    finally:
        discord.http.Route.BASE = previous


def populate_default_world(fake: FakeDiscordAPI) -> None:
    """Register the constants above: one bot, one fully permitted channel, one webhook."""
    fake.add_bot(
        DISCORD_BOT_TOKEN,
        user_id=DISCORD_BOT_USER_ID,
        application_id=DISCORD_APPLICATION_ID,
        name=DISCORD_BOT_NAME,
    )
    fake.add_channel(
        DISCORD_CHANNEL_ID,
        guild_id=DISCORD_GUILD_ID,
        bot_can_view=True,
        bot_can_send=True,
        bot_can_embed=True,
        bot_can_mention_everyone=True,
        bot_can_manage_messages=True,
    )
    fake.add_webhook(
        DISCORD_CHANNEL_ID,
        name=DISCORD_WEBHOOK_NAME,
        webhook_id=DISCORD_WEBHOOK_ID,
        token=DISCORD_WEBHOOK_TOKEN,
    )


@pytest_asyncio.fixture
async def discord_api() -> AsyncIterator[FakeDiscordAPI]:
    """A started FakeDiscordAPI with the default world, default rate limits, and
    ``discord.http.Route.BASE`` pointed at it for the duration of the test."""
    fake = FakeDiscordAPI()
    populate_default_world(fake)
    async with fake:
        with discord_py_pointed_at(fake):
            yield fake
