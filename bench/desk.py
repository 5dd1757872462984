"""The desk and the API on a large newsroom: PostgreSQL with 100,000 stories and 400,000
deliveries (four channels). Prints each figure and its ratio to the issue's goal.

Goals: stories page p95 < 150 ms; preview of a story for all channels p95 < 100 ms; API story
creation p95 < 50 ms and >= 200 creations a second from one web process. Requests go through
the whole ASGI app (middleware, auth, session, templates) in this process, without a socket.

    python bench/desk.py [--stories 100000] [--repeat 100] [--admin-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
import time
from pathlib import Path

import httpx
import yaml
from sqlalchemy import text

from bench.common import DEFAULT_ADMIN_URL, create_database, drop_database, percentile, summary
from distributor.config import StoreConfig
from distributor.configload import load_config
from distributor.desk.accounts import Accounts
from distributor.desk.models import Role
from distributor.store import Store
from distributor.web import WebContext, create_app

CHANNELS = ("telegram", "discord", "email", "english")
PASSWORD = "a benchmark password"
STORY = {
    "title": "Le conseil municipal vote le budget",
    "body": "Le conseil a voté le budget hier soir. Les débats ont duré quatre heures.\n\n"
    "L'opposition a voté contre.",
    "language": "fr",
    "tags": ["local"],
}


def config(url: str, folder: Path) -> Path:
    data = {
        "version": 1,
        "timezone": "Europe/Paris",
        "store": {"url": url},
        "outbox_dir": str(folder / "outbox"),
        "web": {"base_url": "http://bench", "api_requests_per_minute": 10_000_000},
        "channels": [
            {"name": "telegram", "platform": "telegram", "dry_run": True, "chat": "@newsroom"},
            {"name": "discord", "platform": "discord", "dry_run": True},
            {"name": "email", "platform": "email", "dry_run": True, "list": "letter"},
            {
                "name": "english",
                "platform": "telegram",
                "dry_run": True,
                "chat": "@english",
                "filters": {"languages": ["en"]},
            },
        ],
    }
    path = folder / "bench.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


async def fill(store: Store, stories: int) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(
            text(
                """
                INSERT INTO articles (dedup_key, title, body, body_format, language, tags,
                    priority, publish_at, status, version, created_at, updated_at)
                SELECT 'id:' || g, 'Story number ' || g, 'Body of the story. Second one.',
                    'text', 'en', '["local"]', 0, now() - (g || ' minutes')::interval,
                    'routed', 1, now(), now()
                FROM generate_series(1, :n) AS g
                """
            ),
            {"n": stories},
        )
        for channel in CHANNELS:
            await conn.execute(
                text(
                    """
                    INSERT INTO deliveries (article_id, channel, status, operation, priority,
                        attempts, refs, version, sent_at, created_at, updated_at)
                    SELECT id, :channel,
                        CASE WHEN id % 50 = 0 THEN 'failed' ELSE 'sent' END, 'send', 0, 1,
                        '[{"target": "x", "message_id": "1", "kind": ""}]', 1, now(), now(),
                        now()
                    FROM articles
                    """
                ),
                {"channel": channel},
            )
        await conn.execute(text("ANALYZE"))


async def timed(call: object, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        answer = await call()  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1000)
        assert answer.status_code < 400, answer.text[:300]
    return times


def report(name: str, times: list[float], goal_ms: float) -> None:
    p95 = percentile(times, 95)
    print(f"{name}: {summary(times)} ms; p95/goal = {p95:.1f}/{goal_ms:g} = {p95 / goal_ms:.2f}")


async def main(args: argparse.Namespace) -> None:
    url = await create_database(args.admin_url)
    try:
        with tempfile.TemporaryDirectory() as folder:
            loaded = load_config(config(url, Path(folder)), environ={})
            store = await Store.open(StoreConfig(url=url))
            try:
                started = time.perf_counter()
                await fill(store, args.stories)
                print(
                    f"filled {args.stories} stories, {args.stories * len(CHANNELS)} deliveries "
                    f"in {time.perf_counter() - started:.0f} s"
                )
                accounts = Accounts(store)
                await accounts.add_user("bench", Role.EDITOR, PASSWORD)
                token = (await accounts.create_token("bench")).secret
                context = WebContext(
                    loaded.app, store, loaded.renderer(), Path(folder), store.clock
                )
                transport = httpx.ASGITransport(app=create_app(context))
                async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
                    await measure(http, token, args.repeat)
            finally:
                await store.close()
    finally:
        await drop_database(args.admin_url, url)


async def measure(http: httpx.AsyncClient, token: str, repeat: int) -> None:
    form = await http.get("/desk/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    await http.post("/desk/login", data={"name": "bench", "password": PASSWORD, "csrf": csrf})
    auth = {"Authorization": f"Bearer {token}"}
    await http.get("/desk/")  # warm up templates and connections
    report("stories page", await timed(lambda: http.get("/desk/"), repeat), 150)
    report(
        "stories page, searched",
        await timed(lambda: http.get("/desk/?q=story+number+99"), repeat),
        150,
    )
    preview = lambda: http.post("/api/v1/preview", json=STORY, headers=auth)  # noqa: E731
    report("preview, all channels", await timed(preview, repeat), 100)
    counter = iter(range(10**9))

    def create() -> object:
        return http.post(
            "/api/v1/stories", json={**STORY, "id": f"bench-{next(counter)}"}, headers=auth
        )

    report("API creation", await timed(create, repeat * 3), 50)
    total, concurrency = repeat * 10, 16
    started = time.perf_counter()

    async def worker(n: int) -> None:
        for _ in range(n):
            answer = await create()  # type: ignore[misc]
            assert answer.status_code == 201

    await asyncio.gather(*(worker(total // concurrency) for _ in range(concurrency)))
    rate = (total // concurrency * concurrency) / (time.perf_counter() - started)
    shown = f"API creations per second ({concurrency} at once): {rate:.0f}"
    print(f"{shown}; rate/goal = {rate:.0f}/200 = {rate / 200:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stories", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    asyncio.run(main(parser.parse_args()))
