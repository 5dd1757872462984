"""Where each subscriber's events stand, for ``distributor status`` (and ``--json``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy import func, select

from distributor.hooks.config import HookConfig
from distributor.hooks.models import HookEvent, HookStatus
from distributor.logs import REDACTOR
from distributor.store import Store


async def collect(store: Store, hooks: Sequence[HookConfig]) -> list[dict[str, Any]]:
    """One row per configured hook, and per hook still holding events in the store.

    Events waiting (pending or being posted) and dead ones are what an operator acts on;
    the last error says why the receiver refused.
    """
    async with store.session() as session:
        counts = (
            await session.execute(
                select(HookEvent.hook, HookEvent.status, func.count()).group_by(
                    HookEvent.hook, HookEvent.status
                )
            )
        ).all()
        waiting = await session.execute(
            select(HookEvent.hook, func.min(HookEvent.created_at))
            .where(HookEvent.status.in_([HookStatus.PENDING, HookStatus.SENDING]))
            .group_by(HookEvent.hook)
        )
        oldest = {hook: created for hook, created in waiting.tuples()}
        latest_error = select(HookEvent.hook, HookEvent.last_error).where(
            HookEvent.status != HookStatus.SENT, HookEvent.last_error.is_not(None)
        )
        errors: dict[str, str] = {}
        for hook, error in (await session.execute(latest_error.order_by(HookEvent.id))).tuples():
            errors[hook] = error or ""  # ordered by id: the newest wins
    by_hook: dict[str, dict[str, int]] = {}
    for hook, status, count in counts:
        by_hook.setdefault(hook, {})[str(status)] = int(count)
    names = [h.name for h in hooks] + sorted(set(by_hook) - {h.name for h in hooks})
    urls = {h.name: h.url for h in hooks}
    rows = []
    for name in names:
        found = by_hook.get(name, {})
        first_waiting = oldest.get(name)
        rows.append(
            {
                "name": name,
                "url": urls.get(name),  # None: no longer in the config
                "pending": found.get(HookStatus.PENDING, 0) + found.get(HookStatus.SENDING, 0),
                "dead": found.get(HookStatus.DEAD, 0),
                "sent": found.get(HookStatus.SENT, 0),
                "oldest_pending_at": first_waiting.isoformat() if first_waiting else None,
                "last_error": REDACTOR.scrub(errors[name]) if name in errors else None,
            }
        )
    return rows


def render(rows: Sequence[dict[str, Any]], console: Console) -> None:
    if not rows:
        return
    table = Table(title="Event hooks", title_justify="left")
    for column in ("hook", "pending", "dead", "sent", "last error"):
        table.add_column(column)
    for row in rows:
        name = row["name"] if row["url"] else f"{row['name']} (not configured)"
        table.add_row(
            name,
            Text(str(row["pending"]), style="yellow" if row["pending"] else ""),
            Text(str(row["dead"]), style="bold red" if row["dead"] else ""),
            str(row["sent"]),
            Text(row["last_error"] or "", style="red"),
        )
    console.print(table)
