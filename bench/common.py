"""Helpers shared by the benchmark scripts (they print figures; nothing here asserts)."""

from __future__ import annotations

import asyncio
import secrets
import statistics
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from tempfile import TemporaryDirectory

from sqlalchemy import text
from sqlalchemy.engine import make_url

from distributor import database

DEFAULT_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values: Sequence[float]) -> str:
    return (
        f"p50 {percentile(values, 50):.1f}  p95 {percentile(values, 95):.1f}  "
        f"min {min(values):.1f}  max {max(values):.1f}  mean {statistics.fmean(values):.1f}"
    )


async def _admin(admin_url: str, sql: str) -> None:
    engine = database.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


async def create_database(admin_url: str) -> str:
    """A fresh, migrated PostgreSQL database next to ``admin_url``; returns its URL."""
    name = f"distributor_bench_{secrets.token_hex(4)}"
    await _admin(admin_url, f'CREATE DATABASE "{name}"')
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    engine = database.create_engine(url)
    try:
        await database.upgrade(engine)
    finally:
        await engine.dispose()
    return url


async def drop_database(admin_url: str, url: str) -> None:
    name = make_url(url).database
    await _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@asynccontextmanager
async def scratch_store(backend: str, name: str) -> AsyncIterator[tuple[Path, str]]:
    """A temporary folder and a store URL that vanish afterwards: a SQLite file in the folder,
    or (``backend == "postgresql"``) a fresh migrated database next to the default one."""
    with TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if backend != "postgresql":
            yield workdir, f"sqlite+aiosqlite:///{workdir / f'{name}.sqlite3'}"
            return
        url = await create_database(DEFAULT_ADMIN_URL)
        try:
            yield workdir, url
        finally:
            await drop_database(DEFAULT_ADMIN_URL, url)


def run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]
