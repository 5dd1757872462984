"""A delivery's outcome and the hook event announcing it are written together, or neither is.

The database refuses one kind of event (a trigger: the real failure a crash or a full disk
gives between two statements). The outcome it would have announced must then be missing too:
the delivery keeps its lease for the reaper, the channel stays unpaused to be paused again.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from distributor.config import StoreConfig
from distributor.configload import LoadedConfig
from distributor.hooks.models import HookEvent
from distributor.models import Delivery, DeliveryStatus
from distributor.service import Service
from distributor.store import Store
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_fixtures import GROUP_ID, TELEGRAM_TOKEN
from tests.helpers import draft, outbox_config, write_config

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
RECEIVER = "http://127.0.0.1:9/events"  # nothing listens: the events stay queued
ALL_EVENTS = ["delivery.sent", "delivery.failed", "delivery.dead", "channel.paused"]

SQLITE_TRIGGER = """
CREATE TRIGGER refuse_event BEFORE INSERT ON hook_events WHEN NEW.event = '{event}'
BEGIN SELECT RAISE(ABORT, 'no space left on device'); END
"""
PG_FUNCTION = """
CREATE OR REPLACE FUNCTION refuse_event() RETURNS trigger AS $$
BEGIN
  IF NEW.event = '{event}' THEN RAISE EXCEPTION 'no space left on device'; END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql
"""
PG_TRIGGER = (
    "CREATE TRIGGER refuse_event BEFORE INSERT ON hook_events "
    "FOR EACH ROW EXECUTE FUNCTION refuse_event()"
)


@contextlib.asynccontextmanager
async def refusing(store_url: str, event: str | None) -> AsyncIterator[None]:
    """The database refuses to store ``event`` while the block runs (None: refuses nothing)."""
    if event is None:
        yield
        return
    store = await Store.open(StoreConfig(url=store_url), auto_upgrade=True)
    sqlite = store.dialect == "sqlite"
    try:
        async with store.engine.begin() as conn:
            if sqlite:
                await conn.exec_driver_sql(SQLITE_TRIGGER.format(event=event))
            else:
                await conn.exec_driver_sql(PG_FUNCTION.format(event=event))
                await conn.exec_driver_sql(PG_TRIGGER)
        yield
    finally:
        # The PostgreSQL database is shared by the session's tests: always take it away.
        async with store.engine.begin() as conn:
            if sqlite:
                await conn.exec_driver_sql("DROP TRIGGER IF EXISTS refuse_event")
            else:
                await conn.exec_driver_sql("DROP TRIGGER IF EXISTS refuse_event ON hook_events")
                await conn.exec_driver_sql("DROP FUNCTION IF EXISTS refuse_event()")
        await store.close()


async def queue(loaded: LoadedConfig, title: str = "Harbour news") -> int:
    store = await Store.open(loaded.app.store, auto_upgrade=True)
    try:
        past = datetime.now(UTC) - timedelta(seconds=1)
        return (await store.add_article(draft(1, publish_at=past, title=title))).article_id
    finally:
        await store.close()


async def snapshot(
    loaded: LoadedConfig,
) -> tuple[list[Delivery], list[HookEvent], dict[str, str]]:
    store = await Store.open(loaded.app.store)
    try:
        async with store.session() as session:
            deliveries = list((await session.scalars(select(Delivery))).all())
            events = list((await session.scalars(select(HookEvent))).all())
        return deliveries, events, await store.paused_channels()
    finally:
        await store.close()


def hooked(tmp_path: Path, data: dict[str, Any]) -> LoadedConfig:
    data["hooks"] = [{"name": "cms", "url": RECEIVER, "secret": SECRET, "events": ALL_EVENTS}]
    return write_config(tmp_path, data)


def announced(events: list[HookEvent], name: str, delivery: Delivery) -> bool:
    return any(e.event == name and e.payload["data"]["delivery_id"] == delivery.id for e in events)


@pytest.mark.parametrize("refused", [None, "delivery.sent"])
async def test_a_send_is_recorded_exactly_when_its_event_is(
    store_url: str, tmp_path: Path, refused: str | None
) -> None:
    loaded = hooked(tmp_path, outbox_config(store_url, tmp_path))
    await queue(loaded)

    async with refusing(store_url, refused):
        report = await Service(loaded, workdir=tmp_path).run_once()

    deliveries, events, _ = await snapshot(loaded)
    assert len(deliveries) == 3
    for delivery in deliveries:
        sent = delivery.status == DeliveryStatus.SENT
        assert sent == announced(events, "delivery.sent", delivery), delivery.status
    if refused:
        # Unrecorded: still leased, left for the reaper when the lease runs out.
        assert all(d.status == DeliveryStatus.SENDING and d.lease_owner for d in deliveries)
        assert not report.ok
    else:
        assert report.ok and len(events) == 3


@pytest.mark.parametrize("refused", [None, "delivery.failed"])
async def test_a_failure_is_recorded_exactly_when_its_event_is(
    store_url: str, tmp_path: Path, refused: str | None
) -> None:
    # A template that breaks: the platform is never called, the delivery fails for good.
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "tg.html.j2").write_text(
        '{% include "telegram/article.html.j2" %}{% if "Boom" in title %}{{ 1 / 0 }}{% endif %}'
    )
    data = outbox_config(store_url, tmp_path)
    data["channels"] = [{**data["channels"][0], "template": "tg.html.j2"}]
    data.pop("promo")
    loaded = hooked(tmp_path, data)
    await queue(loaded, "Boom town")

    async with refusing(store_url, refused):
        await Service(loaded, workdir=tmp_path).run_once()

    [delivery], events, _ = await snapshot(loaded)
    failed = delivery.status == DeliveryStatus.FAILED
    assert failed == announced(events, "delivery.failed", delivery), delivery.status
    assert failed == (refused is None)


@pytest.mark.parametrize("refused", [None, "channel.paused"])
async def test_a_pause_is_recorded_exactly_when_its_event_is(
    telegram_api: FakeTelegramAPI, store_url: str, tmp_path: Path, refused: str | None
) -> None:
    telegram_api.kick(GROUP_ID)
    channel = {"name": "tg-group", "platform": "telegram", "token": TELEGRAM_TOKEN,
               "chat": str(GROUP_ID), "api_base_url": telegram_api.base_url}  # fmt: skip
    loaded = hooked(tmp_path, {"version": 1, "store": {"url": store_url}, "channels": [channel]})
    await queue(loaded)

    async with refusing(store_url, refused):
        report = await Service(loaded, workdir=tmp_path).run_once()

    [delivery], events, paused = await snapshot(loaded)
    is_paused = "tg-group" in paused
    assert is_paused == any(e.event == "channel.paused" for e in events)
    assert is_paused == (refused is None)
    # Paused: the delivery waits for the channel. Not paused: it keeps its lease until the
    # reaper hands it back to be tried (and the channel paused) again.
    assert delivery.status == (DeliveryStatus.SENDING if refused else DeliveryStatus.PENDING)
    assert not report.ok
