"""Admins hear about a paused channel and a dead delivery; status shows both; resume works."""

from __future__ import annotations

import json
from pathlib import Path

from distributor import status_report
from distributor.ledger import Ledger
from distributor.models import DeliveryStatus
from distributor.service import Service
from distributor.store import Store
from tests.conftest import FakeClock
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_fixtures import CHANNEL_ID, GROUP_ID, TELEGRAM_TOKEN
from tests.helpers import draft, write_config


def config(tmp_path: Path, store_url: str, fake: FakeTelegramAPI):  # type: ignore[no-untyped-def]
    telegram = {
        "platform": "telegram",
        "token": TELEGRAM_TOKEN,
        "api_base_url": fake.base_url,
        "rates": {"per_group_per_minute": 10000, "per_chat_per_second": 1000},
    }
    return write(
        tmp_path,
        {
            "version": 1,
            "store": {"url": store_url},
            "outbox_dir": str(tmp_path / "outbox"),
            "dispatch": {"max_attempts": 1},
            "alerts": {"channel": "admins"},
            "channels": [
                {"name": "kicked", "chat": str(GROUP_ID), **telegram},
                {"name": "flaky", "chat": str(CHANNEL_ID), **telegram},
                {"name": "admins", "platform": "discord", "dry_run": True},
            ],
        },
    )


write = write_config


async def test_pause_and_death_are_alerted_shown_and_recoverable(
    telegram_api: FakeTelegramAPI, store_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    loaded = config(tmp_path, store_url, telegram_api)
    telegram_api.kick(GROUP_ID)
    telegram_api.fail_next(method="sendMessage", chat_id=CHANNEL_ID, status=502, times=1)
    store = await Store.open(loaded.app.store, clock=clock)
    await store.add_article(draft(1, publish_at=clock()))
    await store.close()

    report = await Service(loaded, clock=clock, workdir=tmp_path).run_once()
    assert report.done == 0

    alerts = [json.loads(p.read_text()) for p in sorted((tmp_path / "outbox" / "admins").iterdir())]
    texts = [a["payload"]["embeds"][0]["title"] + " " + a["payload"]["embeds"][0]["description"]
             for a in alerts]  # fmt: skip
    assert any("channel kicked paused" in t and "kicked" in t for t in texts), texts
    assert any("dead" in t and "flaky" in t for t in texts), texts
    assert not any(
        "admins" in t and "Story 1" in t for t in texts
    )  # the alerts channel takes no stories

    store = await Store.open(loaded.app.store, clock=clock)
    try:
        data = await status_report.collect(store, loaded.app)
        channels = {c["name"]: c for c in data["channels"]}
        assert channels["kicked"]["paused"]
        assert "kicked" in channels["kicked"]["paused_reason"]
        problems = {p["channel"]: p["status"] for p in data["problems"]}
        assert problems["flaky"] == DeliveryStatus.DEAD

        # The admin re-adds the bot, resumes the channel and re-queues the dead delivery.
        telegram_api.chats[GROUP_ID].member_status = "administrator"
        assert await store.resume_channel("kicked")
        assert await Ledger(store).requeue(channel="flaky") == 1
    finally:
        await store.close()
    report = await Service(loaded, clock=clock, workdir=tmp_path).run_once()
    assert report.done == 2
    assert len(telegram_api.messages[GROUP_ID]) == 1
    assert len(telegram_api.messages[CHANNEL_ID]) == 1
