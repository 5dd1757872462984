"""Where each configured feed stands, for ``distributor status`` and ``distributor feeds list``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from distributor.feeds.config import FeedConfig
from distributor.feeds.models import FeedStatus
from distributor.feeds.state import FeedLedger
from distributor.logs import REDACTOR
from distributor.store import Store

_STYLE = {
    FeedStatus.NEW: "cyan",
    FeedStatus.OK: "green",
    FeedStatus.FAILING: "yellow",
    FeedStatus.BROKEN: "bold red",
}


async def collect(store: Store, feeds: Sequence[FeedConfig]) -> list[dict[str, Any]]:
    """One JSON-able row per configured feed (a feed never polled shows as new)."""
    states = {state.name: state for state in await FeedLedger(store).all()}
    rows = []
    for feed in feeds:
        state = states.get(feed.name)
        rows.append(
            {
                "name": feed.name,
                "url": feed.url,
                "interval_seconds": feed.interval,
                "status": state.status if state else FeedStatus.NEW,
                "last_polled_at": _iso(state.last_polled_at if state else None),
                "last_success_at": _iso(state.last_success_at if state else None),
                "next_poll_at": _iso(state.next_poll_at if state else None),
                "consecutive_failures": state.consecutive_failures if state else 0,
                "items_seen": state.items_seen if state else 0,
                "last_error": REDACTOR.scrub(state.last_error)
                if state and state.last_error
                else None,
            }
        )
    return rows


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _local(value: str | None, zone: tzinfo) -> str:
    if value is None:
        return "–"
    return datetime.fromisoformat(value).astimezone(zone).strftime("%Y-%m-%d %H:%M")


def lines(rows: Sequence[dict[str, Any]], zone: tzinfo) -> list[str]:
    """Tab-separated lines (name, status, last poll, next poll, items seen, URL, last error)."""
    return [
        "\t".join(
            [
                row["name"],
                str(row["status"]),
                _local(row["last_polled_at"], zone),
                _local(row["next_poll_at"], zone),
                str(row["items_seen"]),
                row["url"],
                row["last_error"] or "",
            ]
        )
        for row in rows
    ]


def render(rows: Sequence[dict[str, Any]], zone: tzinfo, console: Console) -> None:
    """The "Feeds" table of ``distributor status`` (nothing when no feed is configured)."""
    if not rows:
        return
    table = Table(title="Feeds", title_justify="left")
    for column in ("name", "state", "last poll", "next poll", "items", "last error"):
        table.add_column(column)
    for row in rows:
        status = FeedStatus(row["status"])
        state = str(status)
        if row["consecutive_failures"]:
            state += f" ({row['consecutive_failures']} failed)"
        table.add_row(
            row["name"],
            Text(state, style=_STYLE[status]),
            _local(row["last_polled_at"], zone),
            _local(row["next_poll_at"], zone),
            str(row["items_seen"]),
            Text(row["last_error"] or "", style="red"),
        )
    console.print(table)
