"""The audit log: who did what, when, to which story. Append-only (the database refuses the rest).

Actors are written ``user:NAME``, ``token:NAME`` or ``cli``. The CSV export protects
spreadsheets: a cell starting like a formula is prefixed with ``'``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from distributor import wakeup
from distributor.desk.models import AuditEntry
from distributor.logs import REDACTOR
from distributor.store import Store

CSV_COLUMNS = ("id", "at", "actor", "action", "article_id", "detail")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")
# Built once, values bound at execution: the API writes one per story.
_INSERT = insert(AuditEntry)
_NOTIFY = text("SELECT pg_notify(:c, '')")


async def record(
    store: Store,
    actor: str,
    action: str,
    *,
    article_id: int | None = None,
    detail: str = "",
    data: Mapping[str, object] | None = None,
    notify: bool = False,
) -> None:
    """Append one entry (secrets masked in its detail).

    ``notify`` also wakes the workers (``wakeup``), in the same transaction: one commit, not two.
    """
    async with store.engine.begin() as conn:
        await add(
            conn, store, actor, action,
            article_id=article_id, detail=detail, data=data, notify=notify,
        )  # fmt: skip


async def add(
    conn: AsyncConnection,
    store: Store,
    actor: str,
    action: str,
    *,
    article_id: int | None = None,
    detail: str = "",
    data: Mapping[str, object] | None = None,
    notify: bool = False,
) -> None:
    """``record`` inside the caller's transaction (the entry commits with the change itself)."""
    if notify and store.dialect == "postgresql":
        await conn.execute(_NOTIFY, {"c": wakeup.CHANNEL})
    entry = {
        "at": store.clock(),
        "actor": actor[:80],
        "action": action[:32],
        "article_id": article_id,
        "detail": REDACTOR.scrub(detail)[:4000],
        "data": dict(data or {}),
    }
    await conn.execute(_INSERT, entry)


async def entries(
    store: Store,
    *,
    limit: int = 100,
    before: int | None = None,
    article_id: int | None = None,
    actor: str | None = None,
) -> list[AuditEntry]:
    """Newest first; ``before`` pages backwards by id."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    if article_id is not None:
        query = query.where(AuditEntry.article_id == article_id)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    async with store.session() as session:
        return list(await session.scalars(query))


def _cell(value: object) -> str:
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def to_csv(rows: Iterable[AuditEntry]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([_cell(getattr(row, column)) for column in CSV_COLUMNS])
    return buffer.getvalue()
