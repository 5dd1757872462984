"""Latency from queueing a story to the first platform request, on SQLite and PostgreSQL.

A ``distributor run`` worker process waits (its safety-net tick set to a minute, so only
the wake-up path counts); this script queues one story at a time the way
``distributor queue`` does and measures the time until the fake Bot API receives the post.

    python -m bench.latency [--stories 30] [--store sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from bench.common import scratch_store, summary
from distributor import editorial
from distributor.configload import load_config
from distributor.store import Store
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_fixtures import CHANNEL_ID, TELEGRAM_TOKEN, populate_default_chats

ROOT = Path(__file__).resolve().parents[1]


async def measure(workdir: Path, store_url: str, stories: int) -> list[float]:
    fake = populate_default_chats(FakeTelegramAPI(tokens=(TELEGRAM_TOKEN,), flood=None))
    with fake.running_in_thread():
        path = workdir / "latency.yaml"
        path.write_text(
            yaml.safe_dump(
                {
                    "version": 1,
                    "store": {"url": store_url},
                    "dispatch": {"tick_seconds": 60},
                    "channels": [
                        {"name": "tg", "platform": "telegram", "token": TELEGRAM_TOKEN,
                         "chat": str(CHANNEL_ID), "api_base_url": fake.base_url,
                         # Wake-up latency only: the channel's 20-a-minute pacing would
                         # otherwise hold each story ~3 s behind the previous one.
                         "rates": {"per_group_per_minute": 100000,
                                   "per_chat_per_second": 1000}}
                    ],
                }
            )
        )  # fmt: skip
        loaded = load_config(path, environ={})
        store = await Store.open(loaded.app.store, auto_upgrade=True)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "DISTRIBUTOR_CONFIG": str(path)}
        worker = subprocess.Popen(
            [sys.executable, "-m", "distributor", "run"],
            env=env, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        latencies: list[float] = []
        try:
            await asyncio.sleep(4)  # let the worker start and go idle
            for n in range(stories):
                story = workdir / f"story-{n}.txt"
                story.write_text(f"Latency story {n}\n\nIt happened. Then more happened.\n")
                options = editorial.options_for(loaded.app, store)
                before = len(fake.requests)
                queued_at = time.monotonic()
                await editorial.queue_files(store, [story], options)
                while len(fake.requests) == before:
                    await asyncio.sleep(0.002)
                latencies.append((fake.requests[before].time - queued_at) * 1000)
                await asyncio.sleep(0.3)  # one story at a time: no batching effects
        finally:
            worker.terminate()
            worker.wait(timeout=30)
            await store.close()
    return latencies


async def main(stories: int, stores: list[str]) -> None:
    for backend in stores:
        async with scratch_store(backend, "latency") as (workdir, url):
            latencies = await measure(workdir, url, stories)
        print(f"{backend}: queue → first platform request, {stories} stories, ms: "
              f"{summary(latencies)}")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stories", type=int, default=30)
    parser.add_argument("--store", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    chosen = ["sqlite", "postgresql"] if args.store == "both" else [args.store]
    asyncio.run(main(args.stories, chosen))
