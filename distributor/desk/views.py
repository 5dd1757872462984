"""What the desk's story page, calendar and channel page show, gathered from the store."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from distributor.desk.models import AuditEntry
from distributor.desk.newsroom import Newsroom, StoryView
from distributor.models import Article, ArticleStatus, Delivery, DeliveryStatus
from distributor.preview import excluded_by


@dataclass(frozen=True, slots=True)
class Moment:
    """One line of a story's timeline."""

    at: datetime
    what: str
    channel: str | None = None
    detail: str = ""
    posts: tuple[tuple[str, str | None], ...] = ()  # (where, its link or None)
    failed: bool = False


def timeline(
    view: StoryView,
    entries: Sequence[AuditEntry],
    link: Callable[[str, Mapping[str, Any]], str | None] = lambda _channel, _ref: None,
) -> list[Moment]:
    """Queued (by whom), what editors did, and each channel's send with links, oldest first."""
    article = view.article
    moments = [Moment(article.created_at, "created", detail=article.source or "")]
    for entry in entries:
        moments.append(
            Moment(entry.at, entry.action, detail=f"{entry.actor} {entry.detail}".strip())
        )
    for name, delivery in sorted(view.deliveries.items()):
        moments.append(Moment(delivery.created_at, "routed", name))
        if delivery.sent_at is not None:
            posts = tuple(
                (f"{r.get('target', '')} #{r.get('message_id', '')}", link(name, r))
                for r in delivery.refs
            )
            moments.append(Moment(delivery.sent_at, "sent", name, posts=posts))
        if delivery.last_error:
            moments.append(
                Moment(
                    delivery.updated_at,
                    str(delivery.status),
                    name,
                    delivery.last_error,
                    failed=True,
                )
            )
    return sorted(moments, key=lambda m: m.at)


async def calendar_days(newsroom: Newsroom, now: datetime, days: int = 7) -> list[dict[str, Any]]:
    """The coming week's scheduled stories, by day and hour (newsroom time), with channels."""
    zone = newsroom.app.zone
    async with newsroom.store.session() as session:
        articles = list(
            await session.scalars(
                select(Article)
                .where(
                    Article.status == ArticleStatus.QUEUED,
                    Article.publish_at >= now - timedelta(hours=1),
                    Article.publish_at < now + timedelta(days=days),
                )
                .order_by(Article.publish_at, Article.id)
                .limit(2000)
            )
        )
    story_channels = [c for c in newsroom.app.channels if c.name in newsroom.story_channels()]
    start = now.astimezone(zone).date()
    by_day: dict[date, dict[int, list[dict[str, Any]]]] = {
        start + timedelta(days=n): {} for n in range(days + 1)
    }
    for article in articles:
        local = article.publish_at.astimezone(zone)
        channels = [
            c.name
            for c in story_channels
            if excluded_by(c.filters, article.tags, article.language, article.priority) is None
        ]
        by_day.setdefault(local.date(), {}).setdefault(local.hour, []).append(
            {"article": article, "time": local.strftime("%H:%M"), "channels": channels}
        )
    return [{"day": day, "hours": sorted(hours.items())} for day, hours in sorted(by_day.items())]


async def channel_rows(newsroom: Newsroom) -> list[dict[str, Any]]:
    """Each channel: live, dry run or paused (and why), last post, recent failures."""
    states = await newsroom.store.channel_states()
    async with newsroom.store.session() as session:
        last = dict(
            (
                await session.execute(
                    select(Delivery.channel, func.max(Delivery.sent_at)).group_by(Delivery.channel)
                )
            ).all()
        )
        failures = list(
            await session.scalars(
                select(Delivery)
                .where(Delivery.status.in_([DeliveryStatus.FAILED, DeliveryStatus.DEAD]))
                .order_by(Delivery.updated_at.desc())
                .limit(200)
            )
        )
    rows = []
    for channel in newsroom.app.channels:
        state = states.get(channel.name)
        paused = state is not None and state.paused
        mode = (
            "paused" if paused else "disabled" if not channel.enabled else
            "dry_run" if channel.dry_run else "live"
        )  # fmt: skip
        rows.append(
            {
                "name": channel.name,
                "platform": channel.platform,
                "target": channel.describe_target(),
                "mode": mode,
                "reason": state.reason if paused and state is not None else "",
                "last_post": last.get(channel.name),
                "failures": [f for f in failures if f.channel == channel.name][:3],
            }
        )
    return rows
