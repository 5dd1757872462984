"""Shared fixtures: stores on SQLite and PostgreSQL, a movable clock, the fake platforms.

PostgreSQL tests use a throwaway database created for this test session (so two sessions on
one machine never collide) and emptied between tests. Where no server answers they skip with
the reason, except when ``CI`` is set: there a missing database is a failure, not a skip.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from distributor import database
from distributor.config import StoreConfig
from distributor.store import Store

pytest_plugins = ["tests.fakes.telegram_fixtures", "tests.fakes.discord_fixtures"]

PG_ADMIN_URL = os.environ.get(
    "DISTRIBUTOR_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
IN_CI = bool(os.environ.get("CI"))


@dataclass
class FakeClock:
    """Aware UTC time that moves only when a test says so."""

    now: datetime = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def _admin(sql: str) -> None:
    engine = database.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"PostgreSQL is required when CI is set: {reason}")
    pytest.skip(f"PostgreSQL not available: {reason}")


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh, migrated database for this session; its async URL."""
    name = f"distributor_test_{secrets.token_hex(4)}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        _unavailable(f"{type(exc).__name__}: {exc}")
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    async def migrate() -> None:
        engine = database.create_engine(url)
        try:
            await database.upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(migrate())
    yield url
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _empty(url: str) -> None:
    engine = database.create_engine(url)
    try:
        async with engine.begin() as conn:
            tables = (
                await conn.execute(
                    text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                        "AND tablename <> 'alembic_version'"
                    )
                )
            ).scalars()
            names = ", ".join(f'"{t}"' for t in tables)
            if names:
                await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("psycopg", marks=pytest.mark.postgres),
    ]
)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on SQLite (a file under tmp_path) and on an emptied PostgreSQL database,
    through both supported drivers (asyncpg and psycopg)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'store.sqlite3'}"
    url: str = request.getfixturevalue("postgres_database")
    asyncio.run(_empty(url))
    if request.param == "psycopg":
        url = make_url(url).set(drivername="postgresql+psycopg").render_as_string(False)
    return url


@pytest.fixture
async def store(store_url: str, clock: FakeClock) -> AsyncIterator[Store]:
    store = await Store.open(StoreConfig(url=store_url), clock=clock, auto_upgrade=True)
    try:
        yield store
    finally:
        await store.close()


REDIS_URL = os.environ.get("DISTRIBUTOR_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_url() -> str:
    """The Redis the tests share; skipped without a server, a failure when CI is set."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        if IN_CI:
            pytest.fail(f"Redis is required when CI is set: {exc}")
        pytest.skip(f"Redis not available: {exc}")
    finally:
        client.close()
    return REDIS_URL
