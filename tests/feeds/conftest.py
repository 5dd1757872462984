"""Fixtures for the feed tests: the local newsroom server and a client with short deadlines."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from distributor.config import StoreConfig
from distributor.feeds.fetch import FeedClient, FetchLimits
from distributor.store import Store
from tests.conftest import FakeClock
from tests.feeds.server import FeedServer

# Short enough that the "never answers" tests end quickly; a local answer takes milliseconds.
TEST_LIMITS = FetchLimits(
    connect_timeout=2.0, read_timeout=1.0, total_timeout=5.0, max_bytes=300_000, max_redirects=3
)


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    feed_server = FeedServer()
    await feed_server.start()
    try:
        yield feed_server
    finally:
        await feed_server.stop()


@pytest.fixture
async def client(clock: FakeClock) -> AsyncIterator[FeedClient]:
    async with FeedClient(TEST_LIMITS, clock=clock) as feed_client:
        yield feed_client


@pytest.fixture
async def sqlite_store(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Store]:
    """A store on SQLite only, for tests about pages and text rather than about the database."""
    store = await Store.open(
        StoreConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'store.sqlite3'}"), clock=clock
    )
    try:
        yield store
    finally:
        await store.close()
