"""Dispatch cost with a large ledger: how long one claim of 100 due rows takes in PostgreSQL.

Fills a throwaway database with N delivery rows (default 1,000,000: mostly sent history, a
backlog scheduled for later, and exactly 100 due now), then times the dispatcher's real claim
query many times, releasing the rows in between, and prints the query plan.

    python bench/dispatch_claim.py [--rows 1000000] [--repeat 50] [--admin-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime

from sqlalchemy import text, update

from bench.common import DEFAULT_ADMIN_URL, create_database, drop_database, summary
from distributor import database
from distributor.config import ChannelConfig
from distributor.ledger import Ledger
from distributor.models import Delivery, DeliveryStatus
from distributor.store import Store

CHANNELS = 100


async def fill(store: Store, rows: int) -> None:
    articles = rows // CHANNELS
    async with store.engine.begin() as conn:
        await conn.execute(
            text(
                """
                INSERT INTO articles (dedup_key, title, body, body_format, language, tags,
                    priority, publish_at, status, version, created_at, updated_at)
                SELECT 'id:' || g, 'Story ' || g, 'Body.', 'text', 'en', '[]', 0,
                    now() - interval '2 days', 'routed', 1, now(), now()
                FROM generate_series(1, :n) AS g
                """
            ),
            {"n": articles},
        )
        # 95% sent, the rest pending: all but 100 of them scheduled for later.
        await conn.execute(
            text(
                """
                INSERT INTO deliveries (article_id, channel, status, operation, priority,
                    attempts, next_attempt_at, refs, version, created_at, updated_at)
                SELECT a, 'ch' || c,
                    CASE WHEN random() < 0.95 THEN 'sent' ELSE 'pending' END,
                    'send', 0, 0, now() + interval '1 hour', '[]', 1, now(), now()
                FROM generate_series(1, :articles) AS a, generate_series(1, :channels) AS c
                """
            ),
            {"articles": articles, "channels": CHANNELS},
        )
        await conn.execute(
            text(
                """
                UPDATE deliveries SET next_attempt_at = now() - interval '1 minute'
                WHERE id IN (SELECT id FROM deliveries WHERE status = 'pending' LIMIT 100)
                """
            )
        )
        await conn.execute(text("ANALYZE"))


async def main(rows: int, repeat: int, admin_url: str, keep: bool) -> None:
    url = await create_database(admin_url)
    store = Store(database.create_engine(url))
    try:
        started = time.perf_counter()
        await fill(store, rows)
        print(f"filled {rows:,} delivery rows in {time.perf_counter() - started:.1f} s")
        ledger = Ledger(store)
        names = [f"ch{c}" for c in range(1, CHANNELS + 1)]
        channels = [ChannelConfig(name=name, platform="x") for name in names]
        timings: list[float] = []
        finding: list[float] = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            # What a tick does before it sends: route due stories, read pauses, claim.
            await ledger.route_due(channels)
            await store.paused_channels()
            t1 = time.perf_counter()
            claimed = await ledger.claim("bench", names, 100, 60)
            t2 = time.perf_counter()
            timings.append((t2 - t1) * 1000)
            finding.append((t2 - t0) * 1000)
            assert len(claimed) == 100, len(claimed)
            async with store.session() as session, session.begin():
                await session.execute(
                    update(Delivery)
                    .where(Delivery.id.in_([d.id for d in claimed]))
                    .values(status=DeliveryStatus.PENDING, lease_owner=None)
                )
        print(f"claim of 100 due rows among {rows:,}, {repeat} runs, ms: {summary(timings)}")
        print(f"whole tick before sending (route + pauses + claim), ms: {summary(finding)}")
        async with store.engine.connect() as conn:
            now = datetime.now(UTC)
            plan = await conn.execute(
                text(
                    "EXPLAIN ANALYZE SELECT id FROM deliveries WHERE status = 'pending' "
                    "AND next_attempt_at <= :now AND channel = ANY(:names) "
                    "ORDER BY priority DESC, next_attempt_at, id LIMIT 100 FOR UPDATE SKIP LOCKED"
                ),
                {"now": now, "names": names},
            )
            print("plan of the claim's inner query:")
            for (line,) in plan:
                print("   ", line)
    finally:
        await store.close()
        if not keep:
            await drop_database(admin_url, url)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.repeat, args.admin_url, args.keep))
