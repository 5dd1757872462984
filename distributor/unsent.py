"""Change a story that has not gone out yet: its language, tags, priority or publish time.

An editor who queues the same story again with other options means "this, not that". Until a
story has been routed, its row is simply updated. Once routed, its deliveries were chosen by the
old tags and language; as long as none of them has been tried, they are removed and the story goes
back to ``queued``, so routing runs again on the new values when it is due. As soon as one
delivery has started, the story has gone out (or may have, on that channel): the change is refused
and the editor is pointed at ``correct``. One transaction, with the article row locked and every
delivery removal guarded by its state, so a worker claiming a delivery at that moment wins and
the change is refused instead of half applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from distributor.models import Article, ArticleStatus, Delivery, DeliveryStatus, Operation
from distributor.store import Store


@dataclass(frozen=True, slots=True)
class Changes:
    """The values the editor gave; ``None`` (or no tags) leaves a value as it is."""

    language: str | None = None
    tags: tuple[str, ...] | None = None
    priority: int | None = None
    publish_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Revised:
    """What happened: ``changed`` lists ``"field: old → new"``; ``refused`` says why not."""

    changed: tuple[str, ...] = ()
    refused: str | None = None


class _Refused(Exception):
    pass


def _differences(article: Article, changes: Changes) -> dict[str, tuple[object, object]]:
    wanted: dict[str, object] = {
        "language": changes.language,
        "tags": list(changes.tags) if changes.tags is not None else None,
        "priority": changes.priority,
        "publish_at": changes.publish_at,
    }
    return {
        name: (getattr(article, name), value)
        for name, value in wanted.items()
        if value is not None and getattr(article, name) != value
    }


def _shown(value: object) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "(none)"
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    return str(value)


async def revise_unsent(store: Store, article_id: int, changes: Changes) -> Revised:
    """Apply ``changes`` to a story none of whose deliveries has started."""
    now = store.clock()
    try:
        async with store.session() as session, session.begin():
            article = await session.scalar(
                select(Article).where(Article.id == article_id).with_for_update()
            )
            if article is None:
                raise _Refused(f"story #{article_id} does not exist")
            if article.status == ArticleStatus.RETRACTED:
                raise _Refused(f"story #{article_id} was retracted")
            differences = _differences(article, changes)
            if not differences:
                return Revised()
            if article.status == ArticleStatus.ROUTED:
                await _unroute(session, article_id)
                article.status = ArticleStatus.QUEUED
            for name, (_old, new) in differences.items():
                setattr(article, name, new)
            article.updated_at = now
    except _Refused as exc:
        return Revised(refused=str(exc))
    return Revised(
        changed=tuple(
            f"{name}: {_shown(old)} → {_shown(new)}" for name, (old, new) in differences.items()
        )
    )


async def _unroute(session: AsyncSession, article_id: int) -> None:
    total = await session.scalar(
        select(func.count()).select_from(Delivery).where(Delivery.article_id == article_id)
    )
    untouched = (
        Delivery.article_id == article_id,
        Delivery.status == DeliveryStatus.PENDING,
        Delivery.operation == Operation.SEND,
        Delivery.attempts == 0,
        Delivery.attempt_started_at.is_(None),
        Delivery.lease_owner.is_(None),
    )
    removed = await session.execute(delete(Delivery).where(*untouched))
    if removed.rowcount != total:  # type: ignore[attr-defined]
        raise _Refused(
            f"story #{article_id} has started going out; use `distributor correct` to change it"
        )
