"""Counting requests per key in a sliding window: in Redis when configured, else in memory.

Used for the API's limit per token and the desk's login throttling (per account and per client).
With ``redis`` configured every web process counts in the same place (the ``limits`` library's
moving window, as the workers' pacing does), so running several web processes neither
multiplies a token's limit nor the password guesses allowed. Without it each process counts in
its own memory, and a restart forgets the counts: that only ever gives a client a fresh window.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

import limits
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from distributor.clock import Clock

log = logging.getLogger("distributor.desk.throttle")

MAX_KEYS = 100_000  # a flood of distinct keys must not grow memory without end


class Counter(Protocol):
    """At most ``limit`` events per key in any ``seconds``-long window."""

    limit: int

    async def retry_after(self, key: str) -> int:
        """Seconds to wait before ``key`` may act again; 0 when it may now."""
        ...

    async def hit(self, key: str) -> int:
        """Count one event unless over the limit; returns ``retry_after`` (0: counted)."""
        ...

    async def reset(self, key: str) -> None: ...


class Window:
    """A ``Counter`` in this process's memory, on the service's clock."""

    def __init__(self, limit: int, seconds: float, clock: Clock) -> None:
        self.limit = limit
        self.seconds = seconds
        self.clock: Callable[[], datetime] = clock
        self._events: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        now = self.clock().timestamp()
        events = self._events.get(key)
        if events is None:
            if len(self._events) >= MAX_KEYS:
                self._events.clear()
            events = self._events[key] = deque()
        while events and events[0] <= now - self.seconds:
            events.popleft()
        return events

    async def retry_after(self, key: str) -> int:
        events = self._recent(key)
        if len(events) < self.limit:
            return 0
        wait = events[0] + self.seconds - self.clock().timestamp()
        return max(1, math.ceil(wait))

    async def hit(self, key: str) -> int:
        wait = await self.retry_after(key)
        if not wait:
            self._events[key].append(self.clock().timestamp())
        return wait

    async def reset(self, key: str) -> None:
        self._events.pop(key, None)


class SharedWindow:
    """A ``Counter`` in Redis, shared by every web process (Redis keeps time: wall clock).

    When Redis cannot be reached the count goes on in this process's memory and a warning is
    logged: a Redis outage must neither lock editors out nor lift the limits.
    """

    def __init__(
        self, limit: int, seconds: float, storage: Storage, namespace: str, clock: Clock
    ) -> None:
        self.limit = limit
        self.item = limits.RateLimitItemPerSecond(limit, max(1, round(seconds)))
        self.limiter = MovingWindowRateLimiter(storage)
        self.namespace = namespace
        self.fallback = Window(limit, seconds, clock)
        self._warned = False

    def _lost(self, exc: StorageError) -> None:
        if not self._warned:
            log.warning("throttle counts kept in memory: Redis failed (%s)", type(exc).__name__)
            self._warned = True

    async def retry_after(self, key: str) -> int:
        try:
            if await self.limiter.test(self.item, self.namespace, key):
                return 0
            stats = await self.limiter.get_window_stats(self.item, self.namespace, key)
        except StorageError as exc:
            self._lost(exc)
            return await self.fallback.retry_after(key)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def hit(self, key: str) -> int:
        try:
            if await self.limiter.hit(self.item, self.namespace, key):
                return 0
        except StorageError as exc:
            self._lost(exc)
            return await self.fallback.hit(key)
        return await self.retry_after(key) or 1

    async def reset(self, key: str) -> None:
        try:
            await self.limiter.clear(self.item, self.namespace, key)
        except StorageError as exc:
            self._lost(exc)
        await self.fallback.reset(key)


class Counters:
    """Makes the desk's and the API's counters, sharing one Redis connection pool if any.

    ``scope`` keeps two deployments that share a Redis apart (token and account names are
    only unique within one database): pass something that names the database.
    """

    def __init__(self, redis_url: str | None, scope: str, clock: Clock) -> None:
        self.clock = clock
        self.storage: Storage | None = None
        if redis_url:
            scheme, sep, rest = redis_url.partition("://")
            storage = storage_from_string(
                f"async+{scheme}{sep}{rest}", implementation="redispy", wrap_exceptions=True
            )
            assert isinstance(storage, Storage)
            self.storage = storage
        digest = hashlib.sha256(scope.encode()).hexdigest()[:16]
        self.namespace = f"distributor-desk/{digest}"

    @property
    def shared(self) -> bool:
        return self.storage is not None

    def window(self, name: str, limit: int, seconds: float) -> Counter:
        if self.storage is None:
            return Window(limit, seconds, self.clock)
        return SharedWindow(limit, seconds, self.storage, f"{self.namespace}/{name}", self.clock)


def counters_for(app_redis_url: str | None, database_url: str, clock: Clock) -> Counters:
    """The web service's counters: in ``redis`` when configured, scoped to its database."""
    return Counters(app_redis_url, database_url, clock)
