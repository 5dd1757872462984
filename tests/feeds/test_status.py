"""What ``status`` and ``feeds list`` show of the feeds."""

from __future__ import annotations

import io
from datetime import UTC

from rich.console import Console

from distributor.feeds import status
from distributor.feeds.config import FeedConfig
from distributor.feeds.fetch import FeedClient
from distributor.feeds.poller import Poller
from distributor.store import Store
from tests.conftest import FakeClock
from tests.feeds.server import FeedServer, Reply


async def test_rows_table_and_lines(
    sqlite_store: Store, server: FeedServer, client: FeedClient, clock: FakeClock
) -> None:
    feeds = [
        FeedConfig(name="down", url=server.url("/down.xml?token=abc")),
        FeedConfig(name="later", url=server.url("/later.xml")),
    ]
    server.set("/down.xml", Reply("nope", status=500))
    await Poller(sqlite_store, feeds[:1], owner="w", clock=clock, client=client).poll_due()

    rows = await status.collect(sqlite_store, feeds)
    console = Console(file=io.StringIO(), width=200)
    status.render(rows, UTC, console)
    shown = console.file.getvalue()  # type: ignore[attr-defined]

    assert [(r["name"], r["status"], r["consecutive_failures"]) for r in rows] == [
        ("down", "failing", 1),
        ("later", "new", 0),
    ]
    assert "HTTP 500" in (rows[0]["last_error"] or "")
    assert "failing (1 failed)" in shown and "later" in shown
    assert status.lines(rows, UTC)[1].split("\t")[:5] == ["later", "new", "–", "–", "0"]
    assert status.lines(rows, UTC)[0].split("\t")[2] == "2026-11-29 09:00"
