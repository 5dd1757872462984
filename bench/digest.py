"""Building a digest for a channel with 10,000 stories in its window, against the 200 ms goal.

The stories are inserted routed (as the workers leave them), with mixed tags and priorities;
the channel's filters keep about half. Timed: ``Digests.build`` (the window's query, the
filtering, the ordering, the summaries of the listed stories and the Telegram, Discord and
email posts: the email one is the newsletter, HTML and text, before it is personalised per
reader), several runs, printed as a ratio to the goal (below 1.0 meets it).

    python -m bench.digest [--stories 10000] [--runs 7] [--store sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from bench.common import percentile, scratch_store, summary
from distributor.configload import load_config
from distributor.digests import Digests
from distributor.models import Article, ArticleStatus
from distributor.store import Store

GOAL_MS = 200.0
START = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)


async def main(stories: int, runs: int, backend: str) -> None:
    async with scratch_store(backend, "digest") as (workdir, url):
        digest = {"schedule": "0 7 * * *", "max_items": 10, "mode": "digest"}
        data: dict[str, Any] = {
            "version": 1,
            "store": {"url": url},
            "channels": [
                {"name": "tg", "platform": "telegram", "dry_run": True, "chat": "@newsroom",
                 "filters": {"tags": ["city"]}, "digest": digest},
                {"name": "dc", "platform": "discord", "dry_run": True,
                 "filters": {"tags": ["city"]}, "digest": digest},
                {"name": "em", "platform": "email", "dry_run": True,
                 "list_title": "Example Daily", "from_address": "News <news@example.org>",
                 "filters": {"tags": ["city"]}, "digest": digest},
            ],
        }  # fmt: skip
        path = workdir / "bench.yaml"
        path.write_text(yaml.safe_dump(data))
        loaded = load_config(path, environ={})
        store = await Store.open(loaded.app.store, auto_upgrade=True)
        try:
            body = "A first sentence of the story. " * 20
            rows = [
                {
                    "dedup_key": f"id:{n}",
                    "title": f"Story {n} about the city and its river",
                    "body": body,
                    "body_format": "text",
                    "url": f"https://news.example.org/{n}",
                    "language": "en",
                    "tags": ["city"] if n % 2 else ["sport"],
                    "priority": n % 10,
                    "publish_at": START + timedelta(seconds=8 * n),
                    "status": ArticleStatus.ROUTED,
                    "version": 1,
                    "created_at": START,
                    "updated_at": START,
                }
                for n in range(stories)
            ]
            async with store.session() as session, session.begin():
                for chunk in range(0, len(rows), 1000):
                    await session.execute(store.insert(Article).values(rows[chunk : chunk + 1000]))
            renderer = loaded.renderer()
            digests = Digests(loaded.app, store, {}, renderer, owner="bench")
            end = START + timedelta(days=1)
            timings: dict[str, list[float]] = {}
            for name in ("tg", "dc", "em"):
                channel = loaded.app.channel(name)
                await digests.build(channel, START, end)  # warm-up: imports, templates
                timings[name] = []
                for _ in range(runs):
                    began = time.perf_counter()
                    view, message = await digests.build(channel, START, end)
                    timings[name].append((time.perf_counter() - began) * 1000)
                    assert message is not None
                    assert len(view.items) == 10
        finally:
            await store.close()
    print(f"digest build, {stories} stories in the window, store {backend}, {runs} runs")
    for name, values in timings.items():
        ratio = percentile(values, 50) / GOAL_MS
        print(f"  {name}: ms {summary(values)}")
        print(f"  {name}: median / {GOAL_MS:.0f} ms goal = {ratio:.2f} (below 1.0 meets it)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    asyncio.run(main(args.stories, args.runs, args.store))
