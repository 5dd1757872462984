"""Pytest fixtures for the fake Telegram Bot API server (listed in the root ``pytest_plugins``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.fakes.telegram_api import DEFAULT_TOKEN, FakeTelegramAPI

__all__ = [
    "CHANNEL_ID",
    "CHANNEL_USERNAME",
    "FORUM_ID",
    "FORUM_TOPICS",
    "GROUP_ID",
    "PRIVATE_ID",
    "TELEGRAM_TOKEN",
    "populate_default_chats",
    "telegram_api",
]

TELEGRAM_TOKEN = DEFAULT_TOKEN
CHANNEL_ID = -1001000000001
CHANNEL_USERNAME = "@newsroom"
GROUP_ID = -1000000002  # a basic group, so it can be upgraded to a supergroup
FORUM_ID = -1001000000003
FORUM_TOPICS = (7, 9)
PRIVATE_ID = 42


def populate_default_chats(fake: FakeTelegramAPI) -> FakeTelegramAPI:
    """Add the standard chats: channel @newsroom, a group, a forum with topics 7 and 9, a DM."""
    fake.add_chat(CHANNEL_ID, type="channel", username=CHANNEL_USERNAME, title="Newsroom")
    fake.add_chat(GROUP_ID, type="group", title="News group")
    fake.add_chat(FORUM_ID, type="supergroup", title="News forum", is_forum=True,
                  topics=FORUM_TOPICS)  # fmt: skip
    fake.add_chat(PRIVATE_ID, type="private", username="reader", title="Reader")
    return fake


@pytest_asyncio.fixture
async def telegram_api() -> AsyncIterator[FakeTelegramAPI]:
    """A started fake accepting :data:`TELEGRAM_TOKEN`, with the standard chats, no flood limits."""
    fake = populate_default_chats(FakeTelegramAPI(tokens=(TELEGRAM_TOKEN,), flood=None))
    async with fake:
        yield fake
