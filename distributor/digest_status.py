"""Each digest channel's last digests and when the next is due, for ``distributor status``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy import select

from distributor import digest_windows
from distributor.config import AppConfig
from distributor.logs import REDACTOR
from distributor.models import DigestRun, DigestStatus
from distributor.store import Store

RECENT = 5  # digests shown per channel: enough to see a pattern of failures

_STATE = {
    DigestStatus.SENT: ("sent", "green"),
    DigestStatus.EMPTY: ("empty", "dim"),
    DigestStatus.FAILED: ("failed", "bold red"),
    DigestStatus.IN_DOUBT: ("in doubt", "yellow"),
    DigestStatus.PENDING: ("pending", "cyan"),
    DigestStatus.SENDING: ("sending", "cyan"),
}


async def collect(store: Store, app: AppConfig, recent: int = RECENT) -> list[dict[str, Any]]:
    """One entry per channel with a digest: its latest digests, newest first, and the next."""
    now = store.clock()
    channels = [c for c in app.channels if c.digest is not None]
    entries = []
    async with store.session() as session:
        for channel in channels:
            assert channel.digest is not None
            rows = (
                await session.scalars(
                    select(DigestRun)
                    .where(DigestRun.channel == channel.name)
                    .order_by(DigestRun.window_start.desc())
                    .limit(recent)
                )
            ).all()
            cron = digest_windows.trigger(channel.digest, app.zone)
            last_end = rows[0].window_end if rows else None
            _, due = digest_windows.next_window(cron, last_end, now)
            entries.append(
                {
                    "channel": channel.name,
                    "enabled": channel.enabled,
                    "schedule": channel.digest.schedule,
                    "next_due_at": due.isoformat() if due else None,
                    "digests": [_digest_json(row) for row in rows],
                }
            )
    return entries


def _digest_json(row: DigestRun) -> dict[str, Any]:
    return {
        "window_start": row.window_start.isoformat(),
        "window_end": row.window_end.isoformat(),
        "status": row.status.value,
        "items": row.items,
        "attempts": row.attempts,
        "sent_at": row.sent_at.isoformat() if row.sent_at else None,
        "last_error": REDACTOR.scrub(row.last_error) if row.last_error else None,
    }


def _local(value: str, zone: tzinfo) -> str:
    return datetime.fromisoformat(value).astimezone(zone).strftime("%Y-%m-%d %H:%M")


def render(entries: Sequence[dict[str, Any]], zone: tzinfo, console: Console) -> None:
    if not entries:
        return
    table = Table(title="Digests", title_justify="left")
    for column in ("channel", "window", "state", "stories", "error"):
        table.add_column(column)
    for entry in entries:
        due = entry["next_due_at"]
        next_text = f"next due {_local(due, zone)}" if due else "no next time in the schedule"
        if not entry["enabled"]:
            next_text = "channel disabled"
        table.add_row(entry["channel"], Text(next_text, style="italic"), "", "", "")
        for digest in entry["digests"]:
            text, style = _STATE.get(DigestStatus(digest["status"]), (digest["status"], ""))
            start, end = _local(digest["window_start"], zone), _local(digest["window_end"], zone)
            table.add_row(
                "",
                f"{start} → {end}",
                Text(text, style=style),
                str(digest["items"]),
                Text(digest["last_error"] or "", style="red"),
            )
    console.print(table)
