"""A burst of 200 posts to one channel, under enforced limits, draws no 429 from the fake.

The fake enforces 50 posts per second per channel (discord.py follows the bucket headers)
and 50 requests per second per bot, login included (the adapter paces every request).
"""

from __future__ import annotations

import asyncio

from tests.discord.conftest import OpenAdapter, article, render, send_context
from tests.fakes.discord_api import FakeDiscordAPI

BURST = 200


async def test_burst_of_200_posts_draws_no_429(
    fake: FakeDiscordAPI, open_adapter: OpenAdapter, mode: str
) -> None:
    adapter = await open_adapter(mode)
    message = render(adapter, article())
    for n in range(1, BURST + 1):
        await adapter.send(message, send_context(n))

    assert len(fake.all_messages()) == BURST
    assert fake.count_status(429) == 0
    assert {r.status for r in fake.requests} == {200}


async def test_concurrent_burst_is_serialised_per_channel(
    fake: FakeDiscordAPI, open_adapter: OpenAdapter
) -> None:
    """Concurrent sends (alerts beside the dispatcher) queue up in the adapter, in order."""
    adapter = await open_adapter("bot")
    message = render(adapter, article())
    await asyncio.gather(*(adapter.send(message, send_context(n)) for n in range(1, BURST + 1)))

    assert len(fake.all_messages()) == BURST
    assert fake.count_status(429) == 0
