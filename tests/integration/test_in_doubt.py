"""What a crash leaves "in doubt": only a request that may have reached the platform.

A worker is killed (its dispatch task cancelled mid-call, nothing recorded) while one
delivery waits for a flood-limit slot and, in the second test, while one request is on the
wire. After the lease expires the reaper must resend the first and, with the channel's
``skip`` policy, skip only the second.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from distributor.ledger import Ledger
from distributor.models import DeliveryStatus
from distributor.service import Service
from distributor.store import Store
from tests.conftest import FakeClock
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_fixtures import CHANNEL_ID, TELEGRAM_TOKEN
from tests.helpers import draft
from tests.helpers import write_config as write


def config(tmp_path: Path, store_url: str, fake: FakeTelegramAPI):  # type: ignore[no-untyped-def]
    return write(
        tmp_path,
        {
            "version": 1,
            "store": {"url": store_url},
            "dispatch": {"lease_seconds": 30},
            "channels": [
                {
                    "name": "tg",
                    "platform": "telegram",
                    "token": TELEGRAM_TOKEN,
                    "chat": str(CHANNEL_ID),
                    "api_base_url": fake.base_url,
                    "in_doubt": "skip",
                    # One post a minute in this channel: the second story must wait.
                    "rates": {"per_group_per_minute": 1, "safety_margin": 0.0},
                    "timeouts": {"read": 20},
                }
            ],
        },
    )


async def wait_for(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def crash_and_reap(
    service: Service, task: asyncio.Task[object], clock: FakeClock, store_url: str
):  # type: ignore[no-untyped-def]
    task.cancel()  # the worker dies: nothing after this point is recorded
    await asyncio.gather(task, return_exceptions=True)
    await service.close()
    clock.advance(seconds=31)
    store = await Store.open(service.app.store, clock=clock)
    try:
        reaped = await Ledger(store).reap({"tg": "skip"})
        rows = {d.article_id: d for d in await store.deliveries_for([1, 2])}
    finally:
        await store.close()
    return reaped, rows


async def test_waiting_for_a_rate_limit_slot_is_not_in_doubt(
    telegram_api: FakeTelegramAPI, store_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    loaded = config(tmp_path, store_url, telegram_api)
    store = await Store.open(loaded.app.store, clock=clock)
    for n in (1, 2):
        await store.add_article(draft(n, publish_at=clock()))
    await store.close()
    service = Service(loaded, clock=clock, workdir=tmp_path)
    dispatcher = await service.start()
    task = asyncio.create_task(dispatcher.tick())
    await wait_for(lambda: len(telegram_api.all_messages()) == 1)
    await asyncio.sleep(0.3)  # story 2 is now waiting for the channel's next slot
    reaped, rows = await crash_and_reap(service, task, clock, store_url)
    assert len(telegram_api.all_messages()) == 1
    assert {r.delivery_id: r.in_doubt for r in reaped} == {rows[2].id: False}
    assert rows[2].status == DeliveryStatus.PENDING  # will be sent: it never left
    assert rows[1].status == DeliveryStatus.SENT


async def test_a_request_on_the_wire_is_in_doubt_and_the_skip_policy_applies(
    telegram_api: FakeTelegramAPI, store_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    loaded = config(tmp_path, store_url, telegram_api)
    store = await Store.open(loaded.app.store, clock=clock)
    await store.add_article(draft(1, publish_at=clock()))
    await store.close()
    # Telegram stores the post but the answer never comes back before the crash.
    telegram_api.timeout_next(method="sendMessage", seconds=10, then_process=True)
    service = Service(loaded, clock=clock, workdir=tmp_path)
    dispatcher = await service.start()
    task = asyncio.create_task(dispatcher.tick())
    await wait_for(lambda: len(telegram_api.all_messages()) == 1)
    reaped, rows = await crash_and_reap(service, task, clock, store_url)
    assert [(r.outcome, r.in_doubt) for r in reaped] == [("skipped", True)]
    assert rows[1].status == DeliveryStatus.SKIPPED  # at most once: no second copy
