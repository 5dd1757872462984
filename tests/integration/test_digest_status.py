"""``distributor status`` lists each digest channel's last digests and when the next is due.

The clock is the injected one (29 November 2026, 09:00 UTC); the digests are scheduled at
07:00 in Paris (06:00 UTC).
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

from distributor import status_report
from distributor.configload import LoadedConfig
from distributor.models import DigestRun, DigestStatus
from distributor.store import Store
from tests.conftest import FakeClock
from tests.helpers import write_config

DIGEST = {"schedule": "0 7 * * *", "title": "Morning briefing", "mode": "digest"}


def config(tmp_path: Path, store_url: str) -> LoadedConfig:
    data: dict[str, Any] = {
        "version": 1,
        "timezone": "Europe/Paris",
        "store": {"url": store_url},
        "outbox_dir": str(tmp_path / "outbox"),
        "channels": [
            {"name": "morning", "platform": "telegram", "dry_run": True, "chat": "@newsroom",
             "digest": DIGEST},
            {"name": "fresh", "platform": "discord", "dry_run": True, "digest": DIGEST},
            {"name": "stories", "platform": "discord", "dry_run": True},
        ],
    }  # fmt: skip
    return write_config(tmp_path, data)


def at(day: int, hour: int = 6) -> datetime:
    return datetime(2026, 11, day, hour, 0, tzinfo=UTC)


async def add(store: Store, day: int, status: DigestStatus, **values: Any) -> None:
    now = store.clock()
    async with store.session() as session, session.begin():
        session.add(
            DigestRun(
                channel="morning",
                window_start=at(day) - timedelta(days=1),
                window_end=at(day),
                status=status,
                attempts=values.pop("attempts", 1),
                items=values.pop("items", 0),
                refs=[],
                created_at=now,
                updated_at=now,
                **values,
            )
        )


async def test_status_shows_each_digest_channel_s_last_digests_and_next_due(
    tmp_path: Path, store_url: str, clock: FakeClock
) -> None:
    loaded = config(tmp_path, store_url)
    store = await Store.open(loaded.app.store, clock=clock, auto_upgrade=True)
    try:
        await add(store, 23, DigestStatus.EMPTY)  # the oldest: beyond the five shown
        await add(store, 24, DigestStatus.SENT, items=4, sent_at=at(24, 7))
        await add(store, 25, DigestStatus.EMPTY)
        await add(store, 26, DigestStatus.FAILED, items=2, last_error="chat not found (400)")
        error = "in doubt after a crash; channel policy is to skip"
        await add(store, 27, DigestStatus.IN_DOUBT, items=3, last_error=error)
        await add(store, 29, DigestStatus.PENDING, items=0, attempts=0)
        data = await status_report.collect(store, loaded.app)
    finally:
        await store.close()
    morning, fresh = data["digests"]
    assert (morning["channel"], fresh["channel"]) == ("morning", "fresh")  # "stories": none
    assert morning["next_due_at"] == at(30).isoformat()
    assert fresh["next_due_at"] == at(30).isoformat()
    assert fresh["digests"] == []
    shown = [
        (d["window_end"], d["status"], d["items"], d["last_error"]) for d in morning["digests"]
    ]
    assert shown == [
        (at(29).isoformat(), "pending", 0, None),
        (at(27).isoformat(), "in_doubt", 3, error),
        (at(26).isoformat(), "failed", 2, "chat not found (400)"),
        (at(25).isoformat(), "empty", 0, None),
        (at(24).isoformat(), "sent", 4, None),
    ]
    assert morning["digests"][0]["window_start"] == at(28).isoformat()

    out = io.StringIO()
    status_report.render(data, loaded.app.zone, Console(file=out, width=200))
    table = out.getvalue()
    assert "Digests" in table
    assert "next due 2026-11-30 07:00" in table  # in the configured zone
    assert "2026-11-26 07:00 → 2026-11-27 07:00" in table
    for state in ("pending", "in doubt", "failed", "empty", "sent"):
        assert state in table
    assert "2026-11-22 07:00" not in table  # the window of the 23rd: older than the five shown
