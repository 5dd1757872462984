"""One worker polling 1,000 local feeds: wall time per full cycle, CPU per feed, peak memory.

The feeds are served by a separate process (aiohttp on 127.0.0.1), so the CPU figures are the
poller's own. Every feed has 20 items and an ETag. Cycle 0 is the first poll of every feed (a
full 200 answer each, items remembered, nothing queued); in each later cycle every feed is due
again and answers 304, except ``--changed`` percent of them, which answer 200 with one new item
(queued, its language detected for half of the feeds).

    python -m bench.feeds [--feeds 1000] [--cycles 4] [--changed 5] [--concurrency 8]
                          [--postgres]   # default: SQLite in a temporary folder
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

from bench.common import DEFAULT_ADMIN_URL, create_database, drop_database
from distributor.config import StoreConfig
from distributor.feeds.config import FeedConfig
from distributor.feeds.fetch import FeedClient
from distributor.feeds.poller import Poller, PollResult, PollSettings
from distributor.store import Store

ITEMS = 20
PARAGRAPH = (
    "The council met on Tuesday evening to vote on the plan, which was approved by a large "
    "majority after a long debate. Work will begin in September and last two years. "
) * 3


# -- the feed server (its own process) --------------------------------------------------------


def feed_document(feed: int, newest: int) -> bytes:
    items = "".join(
        f"<item><title>Feed {feed} story {n}: the council votes</title>"
        f"<link>/f{feed}/story/{n}</link><guid isPermaLink='false'>f{feed}-{n}</guid>"
        f"<description>&lt;p&gt;{PARAGRAPH}&lt;/p&gt;</description></item>"
        for n in range(newest, newest - ITEMS, -1)
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>Feed {feed}</title><link>http://127.0.0.1/</link>{items}</channel></rss>"
    ).encode()


def serve(changed_percent: int) -> None:
    from aiohttp import web

    state = {"cycle": 0}
    step = max(1, round(100 / changed_percent)) if changed_percent else 0

    def newest(feed: int) -> int:
        # A feed changed in a cycle has one more item from that cycle on.
        cycle = state["cycle"]
        if not step:
            return ITEMS
        return ITEMS + sum(1 for c in range(1, cycle + 1) if (feed + c) % step == 0)

    async def feed(request: web.Request) -> web.Response:
        number = int(request.match_info["n"])
        top = newest(number)
        etag = f'"{number}-{top}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(
            body=feed_document(number, top),
            headers={"ETag": etag, "Content-Type": "application/rss+xml; charset=utf-8"},
        )

    async def cycle(request: web.Request) -> web.Response:
        state["cycle"] = int(request.match_info["n"])
        return web.Response(text="ok")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/feed-{n}.xml", feed)
        app.router.add_get("/_cycle/{n}", cycle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        print(sockets[0].getsockname()[1], flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


# -- the poller (this process) ----------------------------------------------------------------


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def bench(args: argparse.Namespace, store_url: str) -> None:
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.feeds", "--serve", str(args.changed),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert server.stdout is not None
    port = int((await server.stdout.readline()).decode())
    clock = Clock(datetime(2026, 11, 29, 9, 0, tzinfo=UTC))
    feeds = [
        FeedConfig(
            name=f"feed-{i}",
            url=f"http://127.0.0.1:{port}/feed-{i}.xml",
            language="en" if i % 2 else None,  # half the new items need their language found
        )
        for i in range(args.feeds)
    ]
    store = await Store.open(StoreConfig(url=store_url), clock=clock, auto_upgrade=True)
    settings = PollSettings(concurrency=args.concurrency, batch=4 * args.concurrency)
    print(
        f"{args.feeds} feeds x {ITEMS} items, one worker, concurrency {args.concurrency}, "
        f"store {store.dialect}, {args.changed}% of feeds change per cycle"
    )
    print(f"{'cycle':<7}{'wall s':>8}{'CPU ms/feed':>13}{'200':>6}{'304':>6}{'queued':>8}"
          f"{'failed':>8}{'peak RSS MiB':>14}")  # fmt: skip
    try:
        async with FeedClient(clock=clock, max_connections=args.concurrency) as client:
            worker = Poller(
                store, feeds, owner="bench", clock=clock, client=client, settings=settings
            )
            for cycle in range(args.cycles):
                await client.http.get(f"http://127.0.0.1:{port}/_cycle/{cycle}")
                cpu, started = cpu_seconds(), time.perf_counter()
                outcomes = await worker.poll_due()
                wall = time.perf_counter() - started
                cpu = cpu_seconds() - cpu
                results = [o.result for o in outcomes]
                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                print(
                    f"{cycle:<7}{wall:>8.2f}{1000 * cpu / max(len(outcomes), 1):>13.2f}"
                    f"{results.count(PollResult.READ):>6}"
                    f"{results.count(PollResult.NOT_MODIFIED):>6}"
                    f"{sum(len(o.queued) for o in outcomes):>8}"
                    f"{results.count(PollResult.FAILED):>8}{peak:>14.1f}"
                )
                clock.now += timedelta(seconds=max(f.interval for f in feeds) * 1.2)
    finally:
        await store.close()
        server.terminate()
        await server.wait()


async def main(args: argparse.Namespace) -> None:
    if args.postgres:
        url = await create_database(args.admin_url)
        try:
            await bench(args, url)
        finally:
            await drop_database(args.admin_url, url)
        return
    with TemporaryDirectory() as folder:
        await bench(args, f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite3'}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=4)
    parser.add_argument("--changed", type=int, default=5, help="percent of feeds with a new item")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    return parser.parse_args()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]))
    else:
        asyncio.run(main(parse_args()))
