"""The breaking-news lane: a priority story overtakes a backlog held by Telegram's flood limit.

A ``distributor run`` worker process posts to one Telegram channel through the fake Bot API,
which enforces Telegram's real limits (20 posts a minute in a channel, 30 a second per bot).
``--backlog`` stories (priority 0) are queued first, so the worker has hours of paced posts
ahead of it; then, ``--breaking`` times, a priority-10 story is queued the way
``distributor queue`` does. Printed: the time from queueing each breaking story to its first
platform request, against the time the backlog ahead of it would have taken, and the 429s.

    python -m bench.breaking [--backlog 2000] [--breaking 4] [--store sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from bench.common import scratch_store, summary
from distributor import wakeup
from distributor.configload import load_config
from distributor.store import Store
from distributor.types import ArticleDraft
from tests.fakes.telegram_api import FakeTelegramAPI, FloodLimits
from tests.fakes.telegram_fixtures import CHANNEL_ID, TELEGRAM_TOKEN, populate_default_chats

ROOT = Path(__file__).resolve().parents[1]
GAP_SECONDS = 31.0  # breaking stories this far apart: each finds the lane's budget free


def story(title: str, priority: int) -> ArticleDraft:
    return ArticleDraft(
        title=title,
        body="It happened at dawn. Then more happened.",
        publish_at=datetime.now(UTC) - timedelta(seconds=1),
        priority=priority,
    )


async def measure(
    workdir: Path, store_url: str, backlog: int, breaking: int, give_up: float
) -> None:
    fake = populate_default_chats(FakeTelegramAPI(tokens=(TELEGRAM_TOKEN,), flood=FloodLimits()))
    with fake.running_in_thread():
        path = workdir / "breaking.yaml"
        path.write_text(
            yaml.safe_dump(
                {
                    "version": 1,
                    "store": {"url": store_url},
                    "dispatch": {"tick_seconds": 60},
                    "channels": [
                        {"name": "tg", "platform": "telegram", "token": TELEGRAM_TOKEN,
                         "chat": str(CHANNEL_ID), "api_base_url": fake.base_url}
                    ],
                }
            )
        )  # fmt: skip
        loaded = load_config(path, environ={})
        store = await Store.open(loaded.app.store, auto_upgrade=True)
        for n in range(backlog):
            await store.add_article(story(f"Backlog story {n}", 0))
        log = (workdir / "worker.log").open("w")  # read it when a figure looks wrong
        env = {**os.environ, "PYTHONPATH": str(ROOT), "DISTRIBUTOR_CONFIG": str(path)}
        worker = subprocess.Popen(
            [sys.executable, "-m", "distributor", "-v", "run"],
            env=env, cwd=workdir, stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
        latencies: list[float] = []
        try:
            while not any(r.method == "sendMessage" for r in fake.requests):
                await asyncio.sleep(0.05)
            await asyncio.sleep(10)  # the backlog now waits on the channel's 20-a-minute limit
            for n in range(breaking):
                title = f"Breaking story {n}"
                queued_at = time.monotonic()
                await store.add_article(story(title, 10))
                await wakeup.notify(store)
                first = None
                while first is None and time.monotonic() - queued_at < give_up:
                    await asyncio.sleep(0.002)
                    first = next((r for r in list(fake.requests)
                                  if title in r.params.get("text", "")), None)  # fmt: skip
                latencies.append((first.time - queued_at) * 1000 if first else float("inf"))
                print(f"  breaking story {n}: first request after {latencies[-1]:.0f} ms")
                await asyncio.sleep(GAP_SECONDS)
        finally:
            worker.terminate()
            worker.wait(timeout=60)
            log.close()
            await store.close()
    sends = sorted(r.time for r in fake.requests if r.method == "sendMessage" and r.status == 200)
    minutes = (sends[-1] - sends[0]) / 60 if len(sends) > 1 else float("nan")
    behind = backlog - len(sends)
    # Without the lane a story waits behind the backlog: 18 posts a minute (the 10 % margin).
    queue_wait = behind * 60 / 18
    print(f"{backlog} posts waiting, {breaking} breaking stories: queue → first platform request, "
          f"ms: {summary(latencies)}")  # fmt: skip
    worst = max(latencies) / 1000
    print(f"  worst {worst:.2f} s of the 2 s allowed (ratio {worst / 2:.3f}); behind the backlog "
          f"it would have waited ~{queue_wait:.0f} s (ratio {worst / queue_wait:.6f})")  # fmt: skip
    print(f"  channel posts: {len(sends)} in {minutes:.2f} min "
          f"({(len(sends) - 1) / minutes:.1f}/min; Telegram allows 20), 429s: "
          f"{fake.count_status(429)}")  # fmt: skip


async def main(backlog: int, breaking: int, backend: str, give_up: float) -> None:
    async with scratch_store(backend, "breaking") as (workdir, url):
        await measure(workdir, url, backlog, breaking, give_up)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backlog", type=int, default=2000)
    parser.add_argument("--breaking", type=int, default=4)
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--give-up", type=float, default=120, help="seconds to wait per story")
    args = parser.parse_args()
    asyncio.run(main(args.backlog, args.breaking, args.store, args.give_up))
