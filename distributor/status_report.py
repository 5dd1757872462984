"""``distributor status``: the queue and every article's deliveries, per channel, at a glance."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from distributor import digest_status, health, registry
from distributor.config import AppConfig, ChannelConfig
from distributor.feeds import status as feed_status
from distributor.hooks import status as hook_status
from distributor.logs import REDACTOR
from distributor.models import RETRYABLE, Article, Delivery, DeliveryStatus, Operation
from distributor.store import Store

_CELL = {
    DeliveryStatus.SENT: ("✓ sent", "green"),
    DeliveryStatus.SENDING: ("→ sending", "cyan"),
    DeliveryStatus.FAILED: ("✗ failed", "red"),
    DeliveryStatus.DEAD: ("✗ dead", "bold red"),
    DeliveryStatus.SKIPPED: ("? skipped", "yellow"),
    DeliveryStatus.DELETED: ("⌫ deleted", "magenta"),
    DeliveryStatus.CANCELLED: ("– cancelled", "dim"),
}


def cell(delivery: dict[str, Any] | None) -> tuple[str, str]:
    """A short, readable state for one (article, channel), from its JSON form."""
    if delivery is None:
        return "·", "dim"
    status, attempts = delivery["status"], delivery["attempts"]
    if status == DeliveryStatus.PENDING:
        verb = {Operation.SEND: "queued", Operation.EDIT: "edit", Operation.DELETE: "delete"}
        label = verb.get(delivery["operation"], delivery["operation"])
        if attempts:
            return f"↻ {label} (try {attempts + 1})", "yellow"
        return f"… {label}", "cyan"
    text, style = _CELL.get(status, (status, ""))
    if status == DeliveryStatus.SENT and delivery["version"] > 1:
        text += f" v{delivery['version']}"
    outcome = delivery.get("outcome")
    if outcome and status in (DeliveryStatus.SENT, DeliveryStatus.DELETED):
        # What the correction or retraction did there: edited, deleted, notice sent…
        text = "⌫ retracted" if status == DeliveryStatus.DELETED else text
        text += f": {outcome}"
        if outcome.startswith("nothing possible"):
            style = "yellow"
    return text, style


async def collect(store: Store, app: AppConfig, limit: int = 50) -> dict[str, Any]:
    articles = await store.recent_articles(limit)
    deliveries = await store.deliveries_for([a.id for a in articles])
    paused = await store.paused_channels()
    checks = await health.readiness(store)
    if app.metrics is not None:  # the worker serving probes there knows its scheduler
        checks.append(await health.worker_scheduler(app.metrics.host, app.metrics.port))
    configs = {c.name: c for c in app.channels}
    by_article: dict[int, dict[str, Delivery]] = {}
    for delivery in deliveries:
        by_article.setdefault(delivery.article_id, {})[delivery.channel] = delivery
    return {
        "health": health.report(checks),
        "channels": [
            {
                "name": c.name,
                "platform": c.platform,
                "target": c.describe_target(),
                "enabled": c.enabled,
                "dry_run": c.dry_run,
                "paused": c.name in paused,
                "paused_reason": paused.get(c.name),
            }
            for c in app.channels
        ],
        "articles": [_article_json(a, by_article.get(a.id, {}), configs) for a in articles],
        "feeds": await feed_status.collect(store, app.feeds),
        "digests": await digest_status.collect(store, app),
        "hooks": await hook_status.collect(store, app.hooks),
        "problems": [
            _delivery_json(d)
            for d in deliveries
            if d.status in (*RETRYABLE, DeliveryStatus.SKIPPED)
            or (d.status == DeliveryStatus.PENDING and d.attempts)
        ],
    }


def _article_json(
    article: Article, deliveries: dict[str, Delivery], configs: Mapping[str, ChannelConfig]
) -> dict[str, Any]:
    return {
        "id": article.id,
        "title": article.title,
        "status": article.status,
        "version": article.version,
        "language": article.language,
        "tags": list(article.tags),
        "priority": article.priority,
        "publish_at": article.publish_at.isoformat(),
        "url": article.url,
        "deliveries": {
            name: _delivery_json(d, configs.get(name)) for name, d in deliveries.items()
        },
    }


def _delivery_json(delivery: Delivery, config: ChannelConfig | None = None) -> dict[str, Any]:
    links = registry.post_links(config, delivery.refs) if config is not None else []
    return {
        "id": delivery.id,
        "article_id": delivery.article_id,
        "channel": delivery.channel,
        "status": delivery.status,
        "operation": delivery.operation,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at.isoformat()
        if delivery.next_attempt_at
        else None,
        "version": delivery.version,
        "last_error": REDACTOR.scrub(delivery.last_error) if delivery.last_error else None,
        "outcome": delivery.outcome,
        "refs": delivery.refs,
        "links": links,
    }


def _print_links(articles: list[dict[str, Any]], console: Console) -> None:
    """Where each post can be seen, for the platforms that give an address."""
    lines = [
        f"#{article['id']} {name}: {link}"
        for article in articles
        for name, delivery in article["deliveries"].items()
        if delivery["status"] == DeliveryStatus.SENT
        for link in delivery["links"]
    ]
    if lines:
        console.print(Text("Posts", style="italic"))
        for line in lines:
            console.print(line, markup=False, highlight=False)


def render(data: dict[str, Any], zone: tzinfo, console: Console) -> None:
    channels = [c["name"] for c in data["channels"]]
    table = Table(title="Stories", title_justify="left", show_lines=False)
    table.add_column("id", justify="right")
    table.add_column("publish at")
    table.add_column("title", max_width=48, overflow="ellipsis", no_wrap=True)
    for name in channels:
        table.add_column(name)
    for article in data["articles"]:
        when = datetime.fromisoformat(article["publish_at"]).astimezone(zone)
        row: list[str | Text] = [
            str(article["id"]),
            when.strftime("%Y-%m-%d %H:%M"),
            article["title"] + ("  [retracted]" if article["status"] == "retracted" else ""),
        ]
        for name in channels:
            delivery = article["deliveries"].get(name)
            if delivery is None and article["status"] == "queued":
                row.append(Text("… waiting", style="dim"))
                continue
            text, style = cell(delivery)
            row.append(Text(text, style=style))
        table.add_row(*row)
    if not data["articles"]:
        console.print("No stories yet. Queue one with: distributor queue FILE")
    else:
        console.print(table)
        _print_links(data["articles"], console)
    chan = Table(title="Channels", title_justify="left")
    for column in ("name", "platform", "target", "state"):
        chan.add_column(column)
    for c in data["channels"]:
        state = (
            Text(f"paused: {c['paused_reason']}", style="bold red")
            if c["paused"]
            else Text("disabled", style="dim")
            if not c["enabled"]
            else Text("dry run (outbox)", style="cyan")
            if c["dry_run"]
            else Text("live", style="green")
        )
        chan.add_row(c["name"], c["platform"], c["target"], state)
    console.print(chan)
    feed_status.render(data.get("feeds", []), zone, console)
    digest_status.render(data.get("digests", []), zone, console)
    hook_status.render(data.get("hooks", []), console)
    for check in data.get("health", {}).get("checks", []):
        if not check["ok"]:
            console.print(Text(f"not ready: {check['name']}: {check['detail']}", style="bold red"))
    if data["problems"]:
        problems = Table(title="Needs attention", title_justify="left")
        for column in ("article", "channel", "state", "attempts", "last error"):
            problems.add_column(column)
        for p in data["problems"]:
            problems.add_row(
                str(p["article_id"]),
                p["channel"],
                p["status"],
                str(p["attempts"]),
                Text(p["last_error"] or "", style="red"),
            )
        console.print(problems)
