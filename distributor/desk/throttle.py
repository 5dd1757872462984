"""Counting requests per key in a sliding window, in this process's memory.

Used for the API's limit per token and the desk's login throttling (per account and per client).
A restart forgets the counts: that only ever gives a client a fresh window.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from datetime import datetime

from distributor.clock import Clock

MAX_KEYS = 100_000  # a flood of distinct keys must not grow memory without end


class Window:
    """At most ``limit`` events per key in any ``seconds``-long window."""

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

    def retry_after(self, key: str) -> int:
        """Seconds to wait before ``key`` may act again; 0 when it may now."""
        events = self._recent(key)
        if len(events) < self.limit:
            return 0
        wait = events[0] + self.seconds - self.clock().timestamp()
        return max(1, math.ceil(wait))

    def hit(self, key: str) -> int:
        """Count one event unless over the limit; returns ``retry_after`` (0: counted)."""
        wait = self.retry_after(key)
        if not wait:
            self._events[key].append(self.clock().timestamp())
        return wait

    def reset(self, key: str) -> None:
        self._events.pop(key, None)
