from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from distributor import errors
from distributor.retry import RetryPolicy

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def transient() -> errors.TransientDeliveryError:
    return errors.TransientDeliveryError("503", channel="c")


def test_backoff_grows_exponentially_within_jittered_bounds() -> None:
    policy = RetryPolicy(base_seconds=2, max_seconds=60, max_attempts=10, rng=random.Random(1))
    for attempts_before, ceiling in [(0, 2), (1, 4), (2, 8), (3, 16), (5, 60), (8, 60)]:
        at = policy.next_attempt(transient(), attempts_before, NOW)
        assert at is not None
        delay = (at - NOW).total_seconds()
        assert ceiling / 2 <= delay <= ceiling


def test_jitter_spreads_workers_that_failed_together() -> None:
    policy = RetryPolicy(base_seconds=10, max_attempts=10, rng=random.Random(7))
    delays = {policy.next_attempt(transient(), 3, NOW) for _ in range(20)}
    assert len(delays) == 20


def test_gives_up_after_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert policy.next_attempt(transient(), 1, NOW) is not None
    assert policy.next_attempt(transient(), 2, NOW) is None


def test_permanent_errors_are_not_retried() -> None:
    error = errors.PermanentDeliveryError("bad request", channel="c")
    assert RetryPolicy().next_attempt(error, 0, NOW) is None


def test_retry_after_is_honoured_whatever_the_attempt_count() -> None:
    policy = RetryPolicy(max_attempts=2, rng=random.Random(3))
    error = errors.RateLimited("429", retry_after=42.5, channel="c")
    at = policy.next_attempt(error, 50, NOW)
    assert at is not None
    assert NOW + timedelta(seconds=42.5) <= at <= NOW + timedelta(seconds=47.5)


def test_error_message_names_platform_channel_operation_and_status() -> None:
    error = errors.PermanentDeliveryError(
        "chat not found",
        channel="breaking",
        platform="telegram",
        operation="sendMessage",
        status=400,
    )
    assert str(error) == "telegram channel 'breaking': sendMessage failed: chat not found (400)"
