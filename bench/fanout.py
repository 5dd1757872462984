"""Telegram fan-out through the whole pipeline: one story to N chats (default 2,000).

A real ``distributor run --once`` process posts one story to N Telegram channels (one chat
each, one bot token) through the fake Bot API, which enforces Telegram's flood limits scaled
up ``k`` times (default 1: the real 30 sends/s per bot; 2 halves the run) and answers 429 to any
excess. Prints the achieved send rate against the allowed one, the 429s, and the worker's
peak memory (its maximum resident set size).

    python -m bench.fanout [--chats 2000] [--k 1] [--margin 0.03] [--store sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory

import yaml

from bench.common import DEFAULT_ADMIN_URL, create_database, drop_database
from distributor.config import StoreConfig
from distributor.store import Store
from distributor.types import ArticleDraft
from tests.fakes.telegram_api import FakeTelegramAPI, FloodLimits
from tests.fakes.telegram_fixtures import TELEGRAM_TOKEN

ROOT = Path(__file__).resolve().parents[1]


def config(workdir: Path, store_url: str, fake: FakeTelegramAPI, chats: list[int], k: float,
           margin: float) -> Path:  # fmt: skip
    rates = {
        "per_bot_per_second": int(30 * k),
        "per_group_per_minute": int(20 * k),
        "per_chat_per_second": max(1, int(k)),
        "safety_margin": margin,
    }
    channels = [
        {"name": f"tg{n}", "platform": "telegram", "token": TELEGRAM_TOKEN, "chat": str(chat),
         "api_base_url": fake.base_url, "rates": rates}
        for n, chat in enumerate(chats)
    ]  # fmt: skip
    data = {
        "version": 1,
        "store": {"url": store_url},
        "dispatch": {"batch_size": 500, "concurrency": 64},
        "channels": channels,
    }
    path = workdir / "fanout.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


async def queue(store_url: str) -> None:
    store = await Store.open(StoreConfig(url=store_url), auto_upgrade=True)
    try:
        await store.add_article(
            ArticleDraft(
                title="Fan-out story",
                body="One story for every chat. It goes everywhere at once.",
                publish_at=datetime.now(UTC),
                url="https://news.example.org/fan-out",
            )
        )
    finally:
        await store.close()


def main(chats_count: int, k: float, margin: float, backend: str) -> None:
    chats = [-1003000000000 - n for n in range(chats_count)]
    fake = FakeTelegramAPI(tokens=(TELEGRAM_TOKEN,), flood=FloodLimits().scaled(k))
    for chat in chats:
        fake.add_chat(chat, type="channel")
    with TemporaryDirectory() as tmp, fake.running_in_thread():
        workdir = Path(tmp)
        pg_url = (
            asyncio.run(create_database(DEFAULT_ADMIN_URL)) if backend == "postgresql" else None
        )
        store_url = pg_url or f"sqlite+aiosqlite:///{workdir / 'fanout.sqlite3'}"
        try:
            path = config(workdir, store_url, fake, chats, k, margin)
            asyncio.run(queue(store_url))
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            started = time.monotonic()
            subprocess.run(
                [sys.executable, "-m", "distributor", "run", "--once", "-c", str(path)],
                env=env, cwd=workdir, check=True, capture_output=True,
            )  # fmt: skip
            wall = time.monotonic() - started
            peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        finally:
            if pg_url:
                asyncio.run(drop_database(DEFAULT_ADMIN_URL, pg_url))
    sends = sorted(r.time for r in fake.requests if r.status == 200)
    span = sends[-1] - sends[0] if len(sends) > 1 else float("nan")
    achieved = (len(sends) - 1) / span
    allowed = 30 * k
    print(f"store {backend}, {chats_count} chats, flood limit scaled x{k:g}, margin {margin}")
    print(f"  posted {len(sends)} / {chats_count}; 429 answers: {fake.count_status(429)}")
    print(f"  first to last send {span:.2f} s: {achieved:.1f} sends/s, allowed {allowed:.0f}/s, "
          f"ratio {achieved / allowed:.3f}")  # fmt: skip
    print(f"  worker process: {wall:.1f} s wall (start-up, adapters, dispatch), "
          f"peak RSS {peak_mb:.0f} MB")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chats", type=int, default=2000)
    parser.add_argument("--k", type=float, default=1.0)
    parser.add_argument("--margin", type=float, default=0.03)
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    main(args.chats, args.k, args.margin, args.store)
