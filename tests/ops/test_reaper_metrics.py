"""What the reaper decides for an abandoned delivery is counted in distributor_deliveries_total:
``retried`` when it goes back to the queue, ``skipped`` when the channel's in-doubt policy
drops it."""

from __future__ import annotations

from pathlib import Path

import pytest

from distributor import metrics
from distributor.ledger import Ledger
from distributor.models import DeliveryStatus
from distributor.service import Service
from distributor.store import Store
from tests.conftest import FakeClock
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_fixtures import CHANNEL_ID, TELEGRAM_TOKEN
from tests.helpers import draft, write_config


def counted(channel: str, outcome: str) -> float:
    value = metrics.REGISTRY.get_sample_value(
        "distributor_deliveries_total",
        {"channel": channel, "operation": "send", "outcome": outcome},
    )
    return value or 0.0


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("policy", "started", "outcome", "status"),
    [
        ("resend", True, "retried", DeliveryStatus.SENT),  # in doubt, resent
        ("skip", False, "retried", DeliveryStatus.SENT),  # never started: not in doubt
        ("skip", True, "skipped", DeliveryStatus.SKIPPED),
    ],
)
async def test_reaped_deliveries_are_counted(
    telegram_api: FakeTelegramAPI,
    store_url: str,
    tmp_path: Path,
    clock: FakeClock,
    policy: str,
    started: bool,
    outcome: str,
    status: DeliveryStatus,
) -> None:
    channel = f"reaped-{policy}-{str(started).lower()}"
    loaded = write_config(
        tmp_path,
        {
            "version": 1,
            "store": {"url": store_url},
            "dispatch": {"lease_seconds": 30},
            "channels": [
                {"name": channel, "platform": "telegram", "token": TELEGRAM_TOKEN,
                 "chat": str(CHANNEL_ID), "api_base_url": telegram_api.base_url,
                 "in_doubt": policy}
            ],
        },
    )  # fmt: skip
    store = await Store.open(loaded.app.store, clock=clock)
    try:
        await store.add_article(draft(1, publish_at=clock()))
        ledger = Ledger(store)
        await ledger.route_due(loaded.app.channels)
        [delivery] = await ledger.claim("dead-worker", [channel], 10, 30)
        if started:
            assert await ledger.mark_started(delivery, "dead-worker")
    finally:
        await store.close()
    clock.advance(seconds=31)  # the worker that claimed it is gone; its lease runs out
    before = {name: counted(channel, name) for name in ("retried", "skipped", "sent")}

    await Service(loaded, clock=clock, workdir=tmp_path).run_once()

    moved = {name: counted(channel, name) - value for name, value in before.items()}
    expected = {"retried": 0.0, "skipped": 0.0, "sent": 0.0, outcome: 1.0}
    if status == DeliveryStatus.SENT:
        expected["sent"] = 1.0
    assert moved == expected
    store = await Store.open(loaded.app.store, clock=clock)
    try:
        [row] = await store.deliveries_for([delivery.article_id])
    finally:
        await store.close()
    assert row.status == status
