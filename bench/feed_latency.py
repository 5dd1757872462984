"""Latency from the feed poll that finds a new item to the first platform request.

A ``distributor run`` worker polls ``--feeds`` local feeds (RSS, one-minute interval, the
shortest allowed) and posts to a fake Bot API. Its first poll of each feed only remembers the
items there. From then on, each feed shows one new item the next time it is asked, and this
script records when the feed server sent that answer; the item's post reaching the fake Bot API
ends the measurement. Only the item's own work is inside the figure: fetching and parsing the
feed, recording and queueing the item, detecting its language, routing and sending.

Expect a run to last about two poll intervals (just over two minutes).

    python -m bench.feed_latency [--feeds 20] [--store sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import yaml
from aiohttp import web

from bench.common import scratch_store, summary
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_fixtures import CHANNEL_ID, TELEGRAM_TOKEN, populate_default_chats

ROOT = Path(__file__).resolve().parents[1]
BODY = (
    "The council met on Tuesday evening to vote on the plan. It was approved by a large "
    "majority after a long debate. Work will begin in September and last two years. "
)
NEW_TITLE = re.compile(r"Feed (\d+) breaking: the bridge reopens")


class Feeds:
    """Serves ``/feed-N.xml``; a feed's second answer onwards carries one new item."""

    def __init__(self) -> None:
        self.answers: dict[int, int] = {}
        self.found_at: dict[int, float] = {}  # feed → when its new item was first served

    def document(self, feed: int, with_new: bool) -> bytes:
        items = [(f"f{feed}-old-{n}", f"Feed {feed} archive story {n}") for n in range(5)]
        if with_new:
            items.insert(0, (f"f{feed}-new", f"Feed {feed} breaking: the bridge reopens"))
        body = "".join(
            f"<item><title>{title}</title><link>http://127.0.0.1/{guid}</link>"
            f"<guid isPermaLink='false'>{guid}</guid><description>{BODY}</description></item>"
            for guid, title in items
        )
        return (
            "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
            f"<title>Feed {feed}</title><link>http://127.0.0.1/</link>{body}</channel></rss>"
        ).encode()

    async def handle(self, request: web.Request) -> web.Response:
        feed = int(request.match_info["n"])
        self.answers[feed] = self.answers.get(feed, 0) + 1
        with_new = self.answers[feed] > 1
        if with_new and feed not in self.found_at:
            self.found_at[feed] = time.monotonic()
        return web.Response(body=self.document(feed, with_new), content_type="application/rss+xml")


async def measure(workdir: Path, store_url: str, count: int) -> list[float]:
    fake = populate_default_chats(FakeTelegramAPI(tokens=(TELEGRAM_TOKEN,), flood=None))
    feeds = Feeds()
    app = web.Application()
    app.router.add_get("/feed-{n}.xml", feeds.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    with fake.running_in_thread():
        path = workdir / "feed-latency.yaml"
        path.write_text(
            yaml.safe_dump(
                {
                    "version": 1,
                    "store": {"url": store_url},
                    "feeds": [
                        {"name": f"feed-{n}", "url": f"http://127.0.0.1:{port}/feed-{n}.xml",
                         "interval": 60, "full_text": "never"}
                        for n in range(count)
                    ],
                    "channels": [
                        {"name": "tg", "platform": "telegram", "token": TELEGRAM_TOKEN,
                         "chat": str(CHANNEL_ID), "api_base_url": fake.base_url,
                         # The item's latency only: the chat's pacing would otherwise hold
                         # each post behind the previous one.
                         "rates": {"per_group_per_minute": 100000,
                                   "per_chat_per_second": 1000}}
                    ],
                }
            )
        )  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(ROOT), "DISTRIBUTOR_CONFIG": str(path)}
        worker = subprocess.Popen(
            [sys.executable, "-m", "distributor", "run"],
            env=env, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        posted: dict[int, float] = {}
        try:
            deadline = time.monotonic() + 200
            while len(posted) < count and time.monotonic() < deadline:
                for request in list(fake.requests):
                    found = NEW_TITLE.search(str(request.params.get("text", "")))
                    if found and int(found[1]) not in posted:
                        posted[int(found[1])] = request.time
                await asyncio.sleep(0.05)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
            await runner.cleanup()
    missing = count - len(posted)
    if missing:
        print(f"  {missing} of {count} new items were not posted within the run")
    return [(posted[n] - feeds.found_at[n]) * 1000 for n in posted]


async def main(count: int, stores: list[str]) -> None:
    for backend in stores:
        async with scratch_store(backend, "feeds") as (workdir, url):
            latencies = await measure(workdir, url, count)
        print(f"{backend}: poll that finds a new item → first platform request, {count} items, "
              f"ms: {summary(latencies)}")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=20)
    parser.add_argument("--store", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    chosen = ["sqlite", "postgresql"] if args.store == "both" else [args.store]
    asyncio.run(main(args.feeds, chosen))
