"""Pace platform calls before the platform has to say no.

Backed by the ``limits`` library's moving-window limiter: in memory for one worker, in Redis
when configured, so every worker shares the same per-bot and per-chat budgets.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

import limits
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string


@dataclass(frozen=True, slots=True)
class Rate:
    """At most ``amount`` calls in any window of ``seconds``."""

    amount: int
    seconds: int = 1

    def item(self) -> limits.RateLimitItem:
        return limits.RateLimitItemPerSecond(self.amount, self.seconds)


@dataclass(frozen=True, slots=True)
class Slot:
    """One budget a call draws on: a rate and the key it is counted under."""

    rate: Rate
    key: str


class Pacer:
    """Waits until a call fits every budget it draws on."""

    def __init__(
        self, storage_uri: str = "async+memory://", namespace: str = "distributor"
    ) -> None:
        options: dict[str, str] = {}
        if storage_uri.startswith("async+redis"):
            options["implementation"] = "redispy"
        self.storage = storage_from_string(storage_uri, **options)
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.namespace = namespace
        self.shared = not storage_uri.startswith("async+memory")

    @classmethod
    def for_redis(cls, redis_url: str | None) -> Pacer:
        if not redis_url:
            return cls()
        scheme, sep, rest = redis_url.partition("://")
        return cls(f"async+{scheme}{sep}{rest}")

    async def acquire(self, slots: Sequence[Slot]) -> float:
        """Block until every slot has room, then take one from each. Returns seconds waited.

        All slots are tested before any is taken, so a call waiting on the per-bot budget does
        not hold a per-chat slot it has not used yet.
        """
        waited = 0.0
        while True:
            items = [(slot.rate.item(), slot.key) for slot in slots]
            free = [await self.limiter.test(item, self.namespace, key) for item, key in items]
            if all(free):
                for item, key in items:
                    if not await self.limiter.hit(item, self.namespace, key):
                        break
                else:
                    return waited
                # Another worker took the slot between test and hit: try again.
                delay = 0.005
            else:
                resets = [
                    (await self.limiter.get_window_stats(item, self.namespace, key)).reset_time
                    for (item, key), ok in zip(items, free, strict=True)
                    if not ok
                ]
                delay = max(0.005, max(resets) - time.time())
            await asyncio.sleep(delay)
            waited += delay

    async def aclose(self) -> None:
        # The in-memory storage runs an expiry task; Redis keeps a connection pool.
        storage = self.storage
        close = getattr(storage, "close", None)
        if close is not None:
            result = close()
            if asyncio.iscoroutine(result):
                await result
