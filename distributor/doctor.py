"""``distributor doctor``: live checks of everything the configuration points at, posting nothing.

The core checks the store and Redis; each platform checks its own channels through its spec's
``doctor`` hook (``"module:function"``, see ``registry.PlatformSpec``), so the core never
imports a platform. Every check is bounded in time, and any error becomes a failed finding:
a broken channel never stops the others from being checked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from distributor import health, registry
from distributor.config import AppConfig, ChannelConfig
from distributor.logs import REDACTOR
from distributor.store import Store

CHANNEL_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's result: what was checked, whether it passed, what was seen."""

    target: str  # "store", "redis", or a channel's name
    check: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class DoctorOptions:
    """How checks reach the outside: a DNS server to ask instead of the system's, a timeout."""

    nameserver: tuple[str, int] | None = None
    timeout_seconds: float = 10.0


# A platform's hook: its channel's config, the app, the options -> its findings.
ChannelDoctor = Callable[[ChannelConfig, AppConfig, DoctorOptions], Awaitable[list[Finding]]]


def failed(target: str, check: str, exc: BaseException) -> Finding:
    """A finding for an exception, secrets masked."""
    text = str(exc) or type(exc).__name__
    return Finding(target, check, False, REDACTOR.scrub(text)[:300])


async def check_store(app: AppConfig) -> list[Finding]:
    try:
        store = await Store.open(app.store)
    except Exception as exc:  # unreachable, or the schema is behind: both said by StoreError
        return [failed("store", "database", exc)]
    try:
        checks = await health.readiness(store)
    finally:
        await store.close()
    return [Finding("store", c.name, c.ok, c.detail) for c in checks]


async def check_redis(app: AppConfig, options: DoctorOptions) -> list[Finding]:
    if app.redis is None:
        return []
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(
        app.redis.url.get_secret_value(), socket_connect_timeout=options.timeout_seconds
    )
    try:
        async with asyncio.timeout(options.timeout_seconds):
            await client.ping()
    except Exception as exc:
        return [failed("redis", "ping", exc)]
    finally:
        await client.aclose()
    return [Finding("redis", "ping", True, "answers")]


async def check_channel(
    channel: ChannelConfig, app: AppConfig, options: DoctorOptions
) -> list[Finding]:
    spec = registry.get(channel.platform)
    if spec.doctor is None:
        return [Finding(channel.name, "live checks", True, f"{spec.name} brings none")]
    hook: ChannelDoctor = registry.load_attribute(spec.doctor)
    try:
        async with asyncio.timeout(CHANNEL_TIMEOUT_SECONDS):
            return await hook(channel, app, options)
    except TimeoutError:
        return [
            Finding(
                channel.name, "live checks", False, f"no answer in {CHANNEL_TIMEOUT_SECONDS:g} s"
            )
        ]
    except Exception as exc:
        return [failed(channel.name, "live checks", exc)]


async def examine(app: AppConfig, options: DoctorOptions) -> list[Finding]:
    """Every check, channels side by side; findings in the configuration's order."""
    live = [c for c in app.channels if c.enabled and not c.dry_run]
    results = await asyncio.gather(
        check_store(app),
        check_redis(app, options),
        *(check_channel(channel, app, options) for channel in live),
    )
    findings = [finding for group in results for finding in group]
    for channel in app.channels:
        if channel not in live:
            why = "disabled" if not channel.enabled else "dry run: writes to the outbox"
            findings.append(Finding(channel.name, "not checked", True, why))
    return findings
