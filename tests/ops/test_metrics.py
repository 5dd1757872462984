"""A worker's /metrics, scraped while the fake Telegram API fails, rate-limits and recovers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from distributor.configload import LoadedConfig
from distributor.service import Service
from distributor.store import Store
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_fixtures import CHANNEL_ID, GROUP_ID, TELEGRAM_TOKEN
from tests.helpers import draft, write_config
from tests.ops.scrape import eventually, scrape, value

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


def config(tmp_path: Path, store_url: str, api: FakeTelegramAPI) -> LoadedConfig:
    channel = {"platform": "telegram", "token": TELEGRAM_TOKEN, "api_base_url": api.base_url}
    return write_config(
        tmp_path,
        {
            "version": 1,
            "store": {"url": store_url},
            "dispatch": {"backoff_base_seconds": 0.05, "backoff_max_seconds": 0.1},
            "metrics": {"host": "127.0.0.1", "port": 0},
            "channels": [
                {"name": "m-news", "chat": "@newsroom", **channel},
                {"name": "m-group", "chat": str(GROUP_ID), **channel},
            ],
        },
    )


@contextlib.asynccontextmanager
async def worker(loaded: LoadedConfig, tmp_path: Path) -> AsyncIterator[Service]:
    service = Service(loaded, workdir=tmp_path)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run_forever(stop))
    try:
        await eventually(lambda: service.metrics_address is not None or task.done())
        if task.done():
            task.result()
        yield service
    finally:
        stop.set()
        await task


async def queue(store_url: str, n: int) -> None:
    from distributor.config import StoreConfig

    store = await Store.open(StoreConfig(url=store_url))
    try:
        past = datetime.now(UTC) - timedelta(seconds=1)
        await store.add_article(draft(n, publish_at=past, title=f"Metrics story {n}"))
    finally:
        await store.close()


async def test_counters_follow_failures_rate_limits_and_recovery(
    telegram_api: FakeTelegramAPI, store_url: str, tmp_path: Path
) -> None:
    loaded = config(tmp_path, store_url, telegram_api)
    async with worker(loaded, tmp_path) as service:
        assert service.metrics_address is not None
        url = "http://{}:{}/metrics".format(*service.metrics_address)
        before = await scrape(url)
        assert value(before, "distributor_channel_paused", channel="m-group") == 0

        # One 429 then one 500 on the channel, a kicked group: then all recovers.
        telegram_api.fail_next(chat_id=CHANNEL_ID, status=429, retry_after=1)
        telegram_api.fail_next(chat_id=CHANNEL_ID, status=500)
        telegram_api.kick(GROUP_ID)
        await queue(store_url, 1)
        await service_posted(telegram_api, 1)
        after = await scrape(url)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    sent = {"channel": "m-news", "operation": "send"}
    assert delta("distributor_deliveries_total", **sent, outcome="sent") == 1
    assert delta("distributor_deliveries_total", **sent, outcome="retried") == 2  # 429 and 500
    assert delta("distributor_rate_limited_total", channel="m-news") == 1
    assert delta("distributor_send_seconds_count", channel="m-news") == 3
    assert delta("distributor_pacing_wait_seconds_count", channel="m-news") == 3
    assert delta("distributor_queue_to_post_seconds_count", channel="m-news") == 1
    assert delta("distributor_queue_to_post_seconds_sum", channel="m-news") >= 1  # after 429
    # The kicked group: retried (it waits for the admin) and paused.
    group = {"channel": "m-group", "operation": "send"}
    assert delta("distributor_deliveries_total", **group, outcome="retried") == 1
    assert delta("distributor_deliveries_total", **group, outcome="sent") == 0
    assert value(after, "distributor_channel_paused", channel="m-group") == 1
    assert value(after, "distributor_channel_paused", channel="m-news") == 0
    # Read from the database: one sent, one waiting for its paused channel.
    assert value(after, "distributor_queue_depth", status="sent") == 1
    assert value(after, "distributor_queue_depth", status="pending") == 1
    assert value(after, "distributor_queue_depth", status="queued_story") == 0
    assert value(after, "distributor_oldest_due_seconds") == 0  # the paused one is not due
    assert delta("distributor_scheduler_ticks_total") >= 0


async def service_posted(api: FakeTelegramAPI, count: int) -> None:
    await eventually(lambda: len(api.messages[CHANNEL_ID]) >= count)
    await asyncio.sleep(0.2)  # the ledger records the success right after the post


async def test_probes_on_the_worker_port(
    telegram_api: FakeTelegramAPI, store_url: str, tmp_path: Path
) -> None:
    loaded = config(tmp_path, store_url, telegram_api)
    async with worker(loaded, tmp_path) as service, httpx.AsyncClient() as client:
        base = "http://{}:{}".format(*service.metrics_address or ("", 0))
        assert (await client.get(f"{base}/healthz")).text == "ok"
        ready = await client.get(f"{base}/readyz")
        assert ready.status_code == 200, ready.text
        checks = {c["name"]: c["ok"] for c in ready.json()["checks"]}
        assert checks == {"database": True, "schema": True, "scheduler": True}
        # The scheduler stops ticking (its clock says two minutes passed): not ready.
        service.heartbeat.last = datetime.now(UTC) - timedelta(minutes=2)
        stale = await client.get(f"{base}/readyz")
        assert stale.status_code == 503
        assert not stale.json()["ready"]


async def test_status_json_reports_the_same_facts(
    telegram_api: FakeTelegramAPI, store_url: str, tmp_path: Path
) -> None:
    import json

    from tests.integration.test_cli import cli

    loaded = config(tmp_path, store_url, telegram_api)
    assert loaded.path is not None
    async with worker(loaded, tmp_path) as service:
        assert service.metrics_address is not None
        port = service.metrics_address[1]
        data = loaded.path.read_text().replace("port: 0", f"port: {port}")
        loaded.path.write_text(data)
        shown = await asyncio.to_thread(
            cli, "status", "--json", "-c", str(loaded.path), cwd=tmp_path
        )
    assert shown.returncode == 0, shown.stderr
    health = json.loads(shown.stdout)["health"]
    assert health["ready"] is True
    assert [c["name"] for c in health["checks"]] == ["database", "schema", "scheduler"]

    # The worker is gone: status says its scheduler does not answer.
    gone = await asyncio.to_thread(cli, "status", "--json", "-c", str(loaded.path), cwd=tmp_path)
    health = json.loads(gone.stdout)["health"]
    assert health["ready"] is False
    assert (
        health["checks"][2]["ok"] is False and "no worker answers" in health["checks"][2]["detail"]
    )
