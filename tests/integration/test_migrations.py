"""Schema migrations: idempotent, and safe when several processes start at once."""

from __future__ import annotations

import asyncio

from sqlalchemy import inspect

from distributor import database


async def test_concurrent_upgrades_of_a_fresh_database(store_url: str) -> None:
    engines = [database.create_engine(store_url) for _ in range(4)]
    try:
        await asyncio.gather(*(database.upgrade(engine) for engine in engines))
        await database.upgrade(engines[0])  # and again: nothing to do
        assert await database.current_revisions(engines[0]) == database.head_revisions()
        async with engines[0].connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert {"articles", "deliveries", "channel_state", "alembic_version"} <= tables
    finally:
        for engine in engines:
            await engine.dispose()


async def test_a_store_behind_the_code_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from distributor import errors

    engine = database.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}")
    try:
        with pytest.raises(errors.StoreError, match="distributor db upgrade"):
            await database.ensure_schema(engine, auto_upgrade=False)
    finally:
        await engine.dispose()
