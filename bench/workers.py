"""Throughput with 1, 2 and 4 workers on one PostgreSQL database, against a distant platform.

Each worker is a real ``distributor run`` process serving ``--concurrency`` channels at a
time; the fake Bot API answers every call ``--latency-ms`` late (a platform far away), so a
worker spends its time waiting, and more workers should mean proportionally more posts.
Prints posts per second for each worker count and the ratio to one worker.

    python -m bench.workers [--stories 12] [--chats 40] [--latency-ms 100] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory

import yaml
from sqlalchemy import func, select

from bench.common import DEFAULT_ADMIN_URL, create_database, drop_database
from distributor.config import StoreConfig
from distributor.models import Delivery, DeliveryStatus
from distributor.store import Store
from distributor.types import ArticleDraft
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_fixtures import TELEGRAM_TOKEN

ROOT = Path(__file__).resolve().parents[1]


def write_config(path: Path, store_url: str, fake: FakeTelegramAPI, chats: list[int],
                 concurrency: int) -> None:  # fmt: skip
    fast = {"per_bot_per_second": 100000, "per_group_per_minute": 100000,
            "per_chat_per_second": 100000}  # fmt: skip
    data = {
        "version": 1,
        "store": {"url": store_url},
        "dispatch": {"tick_seconds": 0.5, "batch_size": concurrency * 2,
                     "concurrency": concurrency},
        "channels": [
            {"name": f"tg{n}", "platform": "telegram", "token": TELEGRAM_TOKEN,
             "chat": str(chat), "api_base_url": fake.base_url, "rates": fast}
            for n, chat in enumerate(chats)
        ],
    }  # fmt: skip
    path.write_text(yaml.safe_dump(data, sort_keys=False))


async def queue(store_url: str, stories: int) -> None:
    store = await Store.open(StoreConfig(url=store_url))
    try:
        now = datetime.now(UTC)
        for n in range(stories):
            await store.add_article(
                ArticleDraft(title=f"Story {n}", body="Something happened. More soon.",
                             publish_at=now, url=f"https://news.example.org/w/{n}")
            )  # fmt: skip
    finally:
        await store.close()


async def sent(store_url: str) -> int:
    store = await Store.open(StoreConfig(url=store_url))
    try:
        async with store.session() as session:
            count = await session.scalar(
                select(func.count()).where(Delivery.status == DeliveryStatus.SENT)
            )
            return int(count or 0)
    finally:
        await store.close()


async def one_run(workers: int, args: argparse.Namespace, workdir: Path) -> float:
    chats = [-1004000000000 - n for n in range(args.chats)]
    fake = FakeTelegramAPI(tokens=(TELEGRAM_TOKEN,), flood=None)
    for chat in chats:
        fake.add_chat(chat, type="channel")
    fake.latency = args.latency_ms / 1000
    url = await create_database(DEFAULT_ADMIN_URL)
    try:
        with fake.running_in_thread():
            path = workdir / f"workers-{workers}.yaml"
            write_config(path, url, fake, chats, args.concurrency)
            env = {**os.environ, "PYTHONPATH": str(ROOT), "DISTRIBUTOR_CONFIG": str(path)}
            processes = [
                subprocess.Popen([sys.executable, "-m", "distributor", "run"], env=env,
                                 cwd=workdir, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
                for _ in range(workers)
            ]  # fmt: skip
            try:
                await asyncio.sleep(4)  # every worker started and idle
                await queue(url, args.stories)
                total = args.stories * args.chats
                deadline = time.monotonic() + 600
                while await sent(url) < total and time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
            finally:
                for process in processes:
                    process.terminate()
                for process in processes:
                    process.wait(timeout=30)
        times = sorted(r.time for r in fake.requests if r.status == 200)
        return (len(times) - 1) / (times[-1] - times[0])
    finally:
        await drop_database(DEFAULT_ADMIN_URL, url)


async def main(args: argparse.Namespace) -> None:
    with TemporaryDirectory() as tmp:
        rates = {n: await one_run(n, args, Path(tmp)) for n in (1, 2, 4)}
    print(f"{args.stories} stories x {args.chats} channels, platform latency "
          f"{args.latency_ms} ms, {args.concurrency} channels at a time per worker")  # fmt: skip
    for n, rate in rates.items():
        print(f"  {n} worker(s): {rate:6.1f} posts/s  ({rate / rates[1]:.2f}x one worker)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stories", type=int, default=12)
    parser.add_argument("--chats", type=int, default=40)
    parser.add_argument("--latency-ms", type=float, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    asyncio.run(main(parser.parse_args()))
