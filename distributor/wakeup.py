"""Wake every worker the moment a story is queued, instead of waiting for the next poll.

PostgreSQL: ``NOTIFY distributor_wake`` in the queueing transaction, ``LISTEN`` in workers.
SQLite: no server to notify through, so workers watch ``PRAGMA data_version``, which changes
whenever another connection commits (a cheap read every 50 ms).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import aiosqlite
from sqlalchemy import text

from distributor.store import Store

log = logging.getLogger("distributor.wakeup")

CHANNEL = "distributor_wake"
SQLITE_POLL_SECONDS = 0.05


async def notify(store: Store) -> None:
    """Tell running workers there is new work (no-op on SQLite: they see the commit)."""
    if store.dialect == "postgresql":
        async with store.engine.begin() as conn:
            await conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})


async def listen(store: Store, wake: asyncio.Event, stop: asyncio.Event) -> None:
    """Set ``wake`` whenever another process queues work, until ``stop``; survives outages."""
    while not stop.is_set():
        try:
            if store.dialect == "postgresql":
                await _listen_postgres(store, wake, stop)
            else:
                await _watch_sqlite(store, wake, stop)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the periodic tick still runs; try to listen again soon
            log.warning("wake-up listener failed (%s); retrying in 5 s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 5)


async def _listen_postgres(store: Store, wake: asyncio.Event, stop: asyncio.Event) -> None:
    if store.engine.dialect.driver == "psycopg":
        await _listen_psycopg(store, wake, stop)
        return
    async with store.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection

        def on_notify(*_args: object) -> None:
            wake.set()

        await driver.add_listener(CHANNEL, on_notify)
        wake.set()  # anything queued before we listened is picked up by this tick
        try:
            await stop.wait()
        finally:
            with contextlib.suppress(Exception):
                await driver.remove_listener(CHANNEL, on_notify)


async def _listen_psycopg(store: Store, wake: asyncio.Event, stop: asyncio.Event) -> None:
    import psycopg

    # A connection of its own, in autocommit: notifications arrive outside transactions.
    conninfo = store.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        await conn.execute(f"LISTEN {CHANNEL}")
        wake.set()  # anything queued before we listened is picked up by this tick

        async def relay() -> None:
            async for _ in conn.notifies():
                wake.set()

        relaying = asyncio.create_task(relay())
        try:
            await stop.wait()
        finally:
            relaying.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relaying


async def _watch_sqlite(store: Store, wake: asyncio.Event, stop: asyncio.Event) -> None:
    database = store.engine.url.database
    if not database or database == ":memory:":
        await stop.wait()
        return
    async with aiosqlite.connect(database) as conn:
        last = None
        while not stop.is_set():
            async with conn.execute("PRAGMA data_version") as cursor:
                row = await cursor.fetchone()
            version = row[0] if row else None
            if version != last:
                wake.set()  # the first read too: a commit just before we watched counts
            last = version
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), SQLITE_POLL_SECONDS)
