"""Pacing: one budget per key, shared by every worker when it lives in Redis.

The assertions are lower bounds on elapsed time: a busy machine can only make the calls
later, never earlier, so they cannot flake under load the way a "not more than N in a
window" check on client-side timestamps would.
"""

from __future__ import annotations

import asyncio
import secrets
import time

import pytest

from distributor.pacing import Pacer, Rate, Slot


async def elapsed_for(pacers: list[Pacer], slots: list[Slot], calls: int) -> tuple[float, int]:
    done = 0

    async def worker(pacer: Pacer) -> None:
        nonlocal done
        for _ in range(calls):
            await pacer.acquire(slots)
            done += 1

    started = time.monotonic()
    await asyncio.gather(*(worker(p) for p in pacers))
    return time.monotonic() - started, done


async def test_memory_pacer_keeps_the_tightest_budget() -> None:
    pacer = Pacer()
    key = secrets.token_hex(4)
    slots = [Slot(Rate(20, 1), f"bot:{key}"), Slot(Rate(5, 1), f"chat:{key}")]
    elapsed, done = await elapsed_for([pacer], slots, 12)
    await pacer.aclose()
    assert done == 12  # waited, never dropped
    # 5 per second: calls 1-5 at once, 6-10 after 1 s, 11-12 after 2 s.
    assert elapsed >= 1.9


@pytest.mark.redis
async def test_redis_budget_is_shared_between_workers(redis_url: str) -> None:
    workers = [Pacer.for_redis(redis_url) for _ in range(3)]
    slots = [Slot(Rate(10, 1), f"test:{secrets.token_hex(6)}")]
    elapsed, done = await elapsed_for(workers, slots, 8)
    for pacer in workers:
        await pacer.aclose()
    assert done == 24
    # One budget of 10/s for the three of them: 24 calls need at least two more windows.
    # (Three separate budgets would let all 24 through in under a second.)
    assert elapsed >= 1.9


@pytest.mark.redis
async def test_separate_keys_do_not_wait_for_each_other(redis_url: str) -> None:
    pacer = Pacer.for_redis(redis_url)
    prefix = secrets.token_hex(6)
    slot_a = [Slot(Rate(3, 2), f"{prefix}:a")]
    slot_b = [Slot(Rate(3, 2), f"{prefix}:b")]
    results = await asyncio.gather(elapsed_for([pacer], slot_a, 3), elapsed_for([pacer], slot_b, 3))
    await pacer.aclose()
    assert [done for _, done in results] == [3, 3]
