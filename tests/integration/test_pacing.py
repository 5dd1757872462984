"""Pacing: one budget per key, shared by every worker when it lives in Redis."""

from __future__ import annotations

import asyncio
import secrets
import time

import pytest

from distributor.pacing import Pacer, Rate, Slot


def most_in_any_window(stamps: list[float], window: float) -> int:
    stamps = sorted(stamps)
    best, start = 0, 0
    for end, stamp in enumerate(stamps):
        while stamp - stamps[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def run_workers(pacers: list[Pacer], slots: list[Slot], calls: int) -> list[float]:
    stamps: list[float] = []

    async def worker(pacer: Pacer) -> None:
        for _ in range(calls):
            await pacer.acquire(slots)
            stamps.append(time.monotonic())

    await asyncio.gather(*(worker(p) for p in pacers))
    return stamps


async def test_memory_pacer_keeps_every_budget() -> None:
    pacer = Pacer()
    key = secrets.token_hex(4)
    slots = [Slot(Rate(20, 1), f"bot:{key}"), Slot(Rate(5, 1), f"chat:{key}")]
    stamps = await run_workers([pacer], slots, 12)
    await pacer.aclose()
    assert most_in_any_window(stamps, 1.0) <= 5  # the tighter budget wins
    assert len(stamps) == 12  # waited, never dropped


@pytest.mark.redis
async def test_redis_budget_is_shared_between_workers(redis_url: str) -> None:
    workers = [Pacer.for_redis(redis_url) for _ in range(3)]
    slots = [Slot(Rate(10, 1), f"test:{secrets.token_hex(6)}")]
    stamps = await run_workers(workers, slots, 8)
    for pacer in workers:
        await pacer.aclose()
    assert len(stamps) == 24
    # Three workers, one budget: never more than 10 calls in any second, all of them together.
    assert most_in_any_window(stamps, 1.0) <= 10


@pytest.mark.redis
async def test_separate_keys_do_not_share(redis_url: str) -> None:
    pacer = Pacer.for_redis(redis_url)
    prefix = secrets.token_hex(6)
    stamps = await asyncio.gather(
        run_workers([pacer], [Slot(Rate(3, 2), f"{prefix}:a")], 3),
        run_workers([pacer], [Slot(Rate(3, 2), f"{prefix}:b")], 3),
    )
    await pacer.aclose()
    assert all(len(s) == 3 for s in stamps)
