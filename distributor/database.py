"""Engine creation and schema migrations, for SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import fcntl
import importlib
import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from distributor import errors, registry

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def normalise_url(url: str) -> str:
    """Pick the async driver: ``postgresql://`` → asyncpg, ``sqlite://`` → aiosqlite."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise errors.StoreError(f"invalid store URL: {exc}") from exc
    driver = parsed.drivername
    if driver in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif driver == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif driver not in ("postgresql+asyncpg", "postgresql+psycopg", "sqlite+aiosqlite"):
        raise errors.StoreError(
            f"unsupported store driver {driver!r}: use sqlite+aiosqlite, postgresql+asyncpg "
            "or postgresql+psycopg"
        )
    return parsed.render_as_string(hide_password=False)


def safe_url(url: str) -> str:
    """The URL with any password masked, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid URL>"


def create_engine(url: str, *, echo: bool = False, **kwargs: Any) -> AsyncEngine:
    url = normalise_url(url)
    is_sqlite = url.startswith("sqlite")
    if is_sqlite:
        kwargs.setdefault("connect_args", {"timeout": 30})
    engine = create_async_engine(url, echo=echo, **kwargs)
    if is_sqlite:
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (status, other processes) work while the dispatcher writes;
    # busy_timeout makes a second writer wait instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _version_locations() -> list[str]:
    """The core's migrations, then each installed platform's own branch."""
    locations = [str(_MIGRATIONS / "versions")]
    for spec in registry.installed():
        if spec.migrations:
            package = importlib.import_module(spec.migrations)
            locations.extend(str(Path(p)) for p in package.__path__)
    return locations


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(_version_locations()))
    return config


def _upgrade(connection: Connection) -> None:
    config = _alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "heads")


def _current(connection: Connection) -> tuple[str, ...]:
    return tuple(sorted(MigrationContext.configure(connection).get_current_heads()))


def head_revisions() -> tuple[str, ...]:
    """The latest revision of the core and of every installed platform's branch."""
    return tuple(sorted(ScriptDirectory.from_config(_alembic_config()).get_heads()))


# Any constant works; it only has to be the same in every process migrating this database.
_MIGRATION_LOCK = 0x6469737472  # "distr"


async def upgrade(engine: AsyncEngine) -> None:
    """Bring the schema to the latest migration (idempotent, safe for concurrent processes).

    Two processes starting together on a fresh database must not both create the tables:
    PostgreSQL serialises them with an advisory lock held by the migrating transaction;
    SQLite, whose driver runs DDL outside transactions, with a lock file beside the database.
    """
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if database and database != ":memory:":
            lock = await asyncio.to_thread(_lock_file, Path(database + ".migrate-lock"))
            try:
                await _upgrade_in_transaction(engine)
            finally:
                await asyncio.to_thread(_unlock_file, lock)
            return
    await _upgrade_in_transaction(engine)


async def _upgrade_in_transaction(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        await conn.run_sync(_upgrade)


def _lock_file(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _unlock_file(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


async def current_revisions(engine: AsyncEngine) -> tuple[str, ...]:
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


async def ensure_schema(engine: AsyncEngine, *, auto_upgrade: bool) -> None:
    """SQLite is upgraded on start; other stores must be upgraded by ``distributor db upgrade``."""
    if auto_upgrade:
        await upgrade(engine)
        return
    current = await current_revisions(engine)
    heads = head_revisions()
    if not set(heads) <= _applied(current):
        raise errors.StoreError(
            f"the store's schema is at revision {', '.join(current) or 'none'}, this version "
            f"needs {', '.join(heads)}: run `distributor db upgrade`"
        )


def applied_revisions(current: tuple[str, ...]) -> set[str]:
    """Every revision ``current`` includes (its heads and all they were built on)."""
    return _applied(current)


def _applied(current: tuple[str, ...]) -> set[str]:
    # A head reached through a later revision counts as applied (a platform's branch grows
    # from a core revision, and the database then records only the branch's tip).
    script = ScriptDirectory.from_config(_alembic_config())
    applied: set[str] = set()
    for revision in current:
        applied.update(r.revision for r in script.iterate_revisions(revision, "base"))
    return applied
