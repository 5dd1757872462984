"""What the Prometheus metrics cost the fan-out: the same run with and without them.

Each round queues S stories for N dry-run (outbox) channels in a fresh store and times one
``run --once`` pass (``Service.run_once``, in this process) twice: once with
``metrics.counting: true`` and once with ``false``, in alternating order so that warm-up and
drift fall on both sides alike. Prints the median and best time of each and their ratios; the
goal is a cost under 3% (ratio < 1.03).

A whole pass varies by several percent from run to run, more than the metrics cost, so the
script also times, in the same process, exactly the metric updates one post makes (one
delivery count, three histogram observations) over the same channels, and prints them as a
share of a post's time without metrics: the cost without the noise.

    python -m bench.metrics_cost [--channels 200] [--stories 5] [--rounds 5]
                                 [--store sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bench.common import scratch_store
from distributor import metrics
from distributor.configload import LoadedConfig, load_config
from distributor.service import Service
from distributor.store import Store
from distributor.types import ArticleDraft

GOAL = 1.03


def channel(n: int) -> dict[str, Any]:
    """Telegram and Discord dry-run channels, alternately."""
    if n % 2 == 0:
        return {"name": f"ch{n}", "platform": "telegram", "dry_run": True, "chat": f"@chat{n}"}
    return {"name": f"ch{n}", "platform": "discord", "dry_run": True}


def config(workdir: Path, store_url: str, channels: int, counting: bool) -> LoadedConfig:
    data: dict[str, Any] = {
        "version": 1,
        "store": {"url": store_url},
        "outbox_dir": str(workdir / "outbox"),
        "dispatch": {"batch_size": 500, "concurrency": 64},
        "metrics": {"port": 0, "counting": counting},
        "channels": [channel(n) for n in range(channels)],
    }
    path = workdir / "metrics-cost.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_config(path, environ={})


async def queue(loaded: LoadedConfig, stories: int) -> None:
    store = await Store.open(loaded.app.store, auto_upgrade=True)
    past = datetime.now(UTC) - timedelta(seconds=1)
    try:
        for n in range(stories):
            await store.add_article(
                ArticleDraft(
                    title=f"Fan-out story {n}",
                    body="One story for every channel. It goes everywhere at once.",
                    publish_at=past,
                    url=f"https://news.example.org/fan-out-{n}",
                )
            )
    finally:
        await store.close()


async def one_run(backend: str, channels: int, stories: int, counting: bool) -> float:
    """Seconds for one ``run --once`` pass that sends ``channels × stories`` posts."""
    async with scratch_store(backend, "metrics-cost") as (workdir, store_url):
        loaded = config(workdir, store_url, channels, counting)
        await queue(loaded, stories)
        service = Service(loaded, workdir=workdir)
        started = time.perf_counter()
        report = await service.run_once()
        elapsed = time.perf_counter() - started
    if report.done != channels * stories:
        raise SystemExit(f"expected {channels * stories} posts, got {report.done}")
    return elapsed


def instrumentation_seconds(channels: int, posts: int) -> float:
    """Seconds that the metric updates of ``posts`` posts over ``channels`` channels take."""
    names = [f"ch{n}" for n in range(channels)]
    started = time.perf_counter()
    for n in range(posts):
        channel = names[n % channels]
        metrics.observe(metrics.PACING_WAIT_SECONDS, channel, 0.001)
        metrics.observe(metrics.SEND_SECONDS, channel, 0.02)
        metrics.delivery(channel, "send", "sent")
        metrics.observe(metrics.QUEUE_TO_POST_SECONDS, channel, 0.5)
    return time.perf_counter() - started


async def main(channels: int, stories: int, rounds: int, backend: str) -> None:
    logging.disable(logging.INFO)  # the per-post log lines would dominate the timing
    await one_run(backend, channels, stories, True)  # warm-up: imports, template caches
    times: dict[bool, list[float]] = {True: [], False: []}
    for n in range(rounds):
        order = (True, False) if n % 2 == 0 else (False, True)
        for counting in order:
            times[counting].append(await one_run(backend, channels, stories, counting))
    metrics.set_counting(True)
    with_metrics = statistics.median(times[True])
    without = statistics.median(times[False])
    ratio = with_metrics / without
    best_ratio = min(times[True]) / min(times[False])
    posts = channels * stories
    repeat = 20  # long enough to time well
    updates = min(instrumentation_seconds(channels, posts * repeat) for _ in range(3)) / repeat
    share = updates / without
    print(f"store {backend}, {channels} outbox channels x {stories} stories = {posts} posts, "
          f"{rounds} rounds each way")  # fmt: skip
    print(f"  with metrics    median {with_metrics:.3f} s  "
          f"(runs {', '.join(f'{t:.2f}' for t in times[True])})")  # fmt: skip
    print(f"  without metrics median {without:.3f} s  "
          f"(runs {', '.join(f'{t:.2f}' for t in times[False])})")  # fmt: skip
    print(f"  whole pass, ratio with/without: median {ratio:.3f}, best {best_ratio:.3f} "
          f"(noise: the runs of one side differ by more)")  # fmt: skip
    verdict = "within" if 1 + share < GOAL else "OVER"
    print(f"  metric updates of one post: {updates / posts * 1e6:.1f} us, a post without "
          f"metrics: {without / posts * 1e3:.2f} ms")  # fmt: skip
    print(f"  cost ratio {1 + share:.4f} ({share * 100:.2f}%), goal < {GOAL}: {verdict}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--channels", type=int, default=200)
    parser.add_argument("--stories", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    asyncio.run(main(args.channels, args.stories, args.rounds, args.store))
