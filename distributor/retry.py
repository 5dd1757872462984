"""When to try a failed delivery again: exponential backoff with jitter, or the platform's word."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from distributor import errors


@dataclass
class RetryPolicy:
    """``next_attempt`` gives the retry time, or None when the delivery should die.

    Backoff is "equal jitter": half the exponential delay, plus a random part up to the other
    half, so workers that failed together do not retry together. A 429's ``retry_after`` is
    honoured as given (plus a little jitter) and does not count as a failed attempt.
    """

    base_seconds: float = 5.0
    max_seconds: float = 3600.0
    max_attempts: int = 8
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        ceiling = min(self.max_seconds, self.base_seconds * float(2 ** max(attempt - 1, 0)))
        return ceiling / 2 + float(self.rng.uniform(0, ceiling / 2))

    def next_attempt(
        self, error: errors.DeliveryError, attempts_before: int, now: datetime
    ) -> datetime | None:
        if isinstance(error, errors.RateLimited):
            wait = max(error.retry_after, 0.0)
            return now + timedelta(seconds=wait + self.rng.uniform(0, 0.05 + wait * 0.1))
        if not error.retryable:
            return None
        attempt = attempts_before + 1
        if attempt >= self.max_attempts:
            return None
        return now + timedelta(seconds=self.delay(attempt))
