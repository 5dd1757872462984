"""A 429 on a post never leaves the delivery marked started while nothing is on the wire.

discord.py sleeps through a webhook 429 and resends inside the same call. The delivery was
marked started before the first request, so a worker killed during that sleep left a post that
was never made "in doubt", and ``in_doubt: skip`` then never sent it. A 429 on a request that
may post now ends the call as ``errors.RateLimited`` (not in doubt), the dispatcher's failure
record clears the mark, and the adapter waits the rest of the limit out before its next
request, before any mark.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from distributor import errors
from distributor.ledger import Ledger
from distributor.models import DeliveryStatus
from distributor.send_context import SendContext
from distributor.service import Service
from distributor.store import Store
from distributor.types import DeliveryTicket
from tests.conftest import FakeClock
from tests.discord.conftest import OpenAdapter, article, render
from tests.discord.test_service import (
    EXECUTE_WEBHOOK,
    add_channels,
    discord_config,
    queue_story,
    rows,
)
from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.discord_fixtures import DISCORD_CHANNEL_ID


class Marks:
    """A send context's hook that counts how often the delivery was marked started."""

    def __init__(self) -> None:
        self.count = 0

    async def __call__(self) -> None:
        self.count += 1

    def context(self, delivery_id: int) -> SendContext:
        ticket = DeliveryTicket(
            delivery_id=delivery_id, article_id=7, channel="news", version=1, attempt=1
        )
        return SendContext(ticket, self)


async def test_a_429_on_a_post_ends_the_call_and_the_next_post_is_held_before_its_mark(
    fake: FakeDiscordAPI, open_adapter: OpenAdapter
) -> None:
    adapter = await open_adapter("webhook")
    first, second = Marks(), Marks()
    fake.fail_next(route=EXECUTE_WEBHOOK, status=429, retry_after=42.0)
    with pytest.raises(errors.RateLimited) as limited:
        await adapter.send(render(adapter, article()), first.context(1))
    assert (limited.value.retry_after, limited.value.in_doubt) == (42.0, False)
    assert first.count == 1  # the request that drew the 429 had left
    requests = len(fake.requests)

    # The webhook's limit is not over: the next post is not attempted, and not marked.
    with pytest.raises(errors.RateLimited) as held:
        await adapter.send(render(adapter, article()), second.context(2))
    assert 41.0 < held.value.retry_after <= 42.0
    assert not held.value.in_doubt
    assert second.count == 0
    assert len(fake.requests) == requests
    assert fake.all_messages() == []


async def test_a_worker_killed_after_a_webhook_429_leaves_the_post_to_send_not_to_skip(
    store_url: str, tmp_path: Path, clock: FakeClock, fake: FakeDiscordAPI
) -> None:
    loaded = discord_config(store_url, tmp_path, fake, add_channels(fake), in_doubt="skip")
    await queue_story(loaded, clock)
    # discord.py would sleep 5 s on this and post again, marked started all along.
    fake.fail_next(route=EXECUTE_WEBHOOK, status=429, retry_after=5.0)
    service = Service(loaded, clock=clock, workdir=tmp_path)
    dispatcher = await service.start()
    task = asyncio.create_task(dispatcher.tick())
    # The tick ends on its own once the 429 is recorded; before the fix it slept in discord.py.
    await asyncio.wait({task}, timeout=2.0)
    task.cancel()  # the worker dies here: nothing after this point is recorded
    await asyncio.gather(task, return_exceptions=True)
    await service.close()

    assert fake.count_status(429) == 1
    clock.advance(minutes=5)  # every lease has expired
    store = await Store.open(loaded.app.store, clock=clock)
    try:
        reaped = await Ledger(store).reap({"discord-hook": "skip"})
    finally:
        await store.close()
    assert [r for r in reaped if r.channel == "discord-hook"] == []
    hook = (await rows(loaded, clock))["discord-hook"]
    assert hook.status == DeliveryStatus.PENDING
    assert hook.attempt_started_at is None
    assert hook.attempts == 0  # a 429 spends no attempt

    await Service(loaded, clock=clock, workdir=tmp_path).run_once()
    assert (await rows(loaded, clock))["discord-hook"].status == DeliveryStatus.SENT
    titles = [m.embeds[0]["title"] for m in fake.messages[DISCORD_CHANNEL_ID].values()]
    assert titles.count("Story 1") == 1
