"""The web service's /metrics and /readyz; /readyz follows PostgreSQL going away and back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from distributor.config import StoreConfig
from distributor.configload import LoadedConfig
from distributor.store import Store
from distributor.web import WebContext, create_app
from tests.helpers import outbox_config, write_config
from tests.ops.proxy import Relay
from tests.ops.scrape import value


def web_client(loaded: LoadedConfig, store: Store, tmp_path: Path) -> httpx.AsyncClient:
    context = WebContext(loaded.app, store, loaded.renderer(), tmp_path / "outbox", store.clock)
    transport = httpx.ASGITransport(app=create_app(context))
    return httpx.AsyncClient(transport=transport, base_url="http://web.test")


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_web_service_serves_metrics_and_probes(store_url: str, tmp_path: Path) -> None:
    loaded = write_config(tmp_path, outbox_config(store_url, tmp_path))
    store = await Store.open(loaded.app.store, auto_upgrade=True)
    try:
        await store.pause_channel("discord", "webhook deleted")
        async with web_client(loaded, store, tmp_path) as client:
            assert (await client.get("/healthz")).text == "ok"
            ready = await client.get("/readyz")
            scraped = await client.get("/metrics")
    finally:
        await store.close()
    assert ready.status_code == 200
    # No scheduler runs in the web service: only the store is checked.
    assert [c["name"] for c in ready.json()["checks"]] == ["database", "schema"]
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(scraped.text)
        for s in family.samples
    }
    assert value(samples, "distributor_channel_paused", channel="discord") == 1
    assert value(samples, "distributor_channel_paused", channel="telegram") == 0
    assert value(samples, "distributor_queue_depth", status="pending") == 0


@pytest.fixture
async def relayed_postgres(postgres_database: str) -> AsyncIterator[tuple[str, Relay]]:
    url = make_url(postgres_database)
    async with Relay(url.host or "127.0.0.1", url.port or 5432) as relay:
        yield url.set(host="127.0.0.1", port=relay.port).render_as_string(False), relay


@pytest.mark.postgres
async def test_readyz_turns_unready_while_postgresql_is_away(
    relayed_postgres: tuple[str, Relay], tmp_path: Path
) -> None:
    url, relay = relayed_postgres
    loaded = write_config(tmp_path, outbox_config(url, tmp_path))
    store = await Store.open(StoreConfig(url=url))
    try:
        async with web_client(loaded, store, tmp_path) as client:
            assert (await client.get("/readyz")).status_code == 200

            await relay.cut()
            away = await client.get("/readyz")
            assert away.status_code == 503
            checks = {c["name"]: c for c in away.json()["checks"]}
            assert not checks["database"]["ok"] and not checks["schema"]["ok"]
            assert (await client.get("/healthz")).status_code == 200  # alive all the same
            assert (await client.get("/metrics")).status_code == 200  # counters still served

            await relay.restore()
            back = await client.get("/readyz")
            assert back.status_code == 200, back.text
    finally:
        await store.close()
