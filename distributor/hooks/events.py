"""Writing events to the ``hook_events`` queue, in the caller's transaction when it has one.

An event written in the same transaction as the change it reports (a story queued, corrected,
retracted) exists exactly when the change does: it cannot be lost between the two.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from distributor.hooks.config import HookConfig
from distributor.hooks.models import HookEvent, HookStatus


@dataclass(frozen=True, slots=True)
class Notice:
    """An event that a change announces (``delivery.sent``, ``channel.paused``…).

    The writer of the change queues it in the change's own transaction, and only if the
    change was written: a crash cannot leave one without the other.
    """

    event: str
    data: Mapping[str, Any] = field(default_factory=dict)


def rows(
    hooks: Sequence[HookConfig], event: str, data: Mapping[str, Any], now: datetime
) -> list[dict[str, Any]]:
    """One row per hook subscribed to ``event``; each gets its own webhook-id."""
    payload = {"type": event, "timestamp": now.isoformat(), "data": dict(data)}
    return [
        {
            "message_id": f"msg_{secrets.token_hex(12)}",
            "hook": hook.name,
            "event": event,
            "payload": payload,
            "status": HookStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for hook in hooks
        if event in hook.events
    ]


async def enqueue(
    db: AsyncSession | AsyncConnection,
    hooks: Sequence[HookConfig],
    event: str,
    data: Mapping[str, Any],
    now: datetime,
) -> int:
    """Queue ``event`` for its subscribers within ``db``'s transaction; how many rows."""
    values = rows(hooks, event, data, now)
    if values:
        await db.execute(insert(HookEvent), values)
    return len(values)
