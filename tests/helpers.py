"""Small builders shared by tests."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from distributor.configload import LoadedConfig, load_config
from distributor.types import ArticleDraft


def draft(
    n: int = 1,
    *,
    publish_at: datetime,
    title: str | None = None,
    body: str = "First sentence of the story. Second sentence. Third one.",
    **fields: Any,
) -> ArticleDraft:
    return ArticleDraft(
        title=title or f"Story {n}",
        body=body,
        publish_at=publish_at,
        url=fields.pop("url", f"https://news.example.org/story-{n}"),
        **fields,
    )


def write_config(tmp_path: Path, data: dict[str, Any], name: str = "config.yaml") -> LoadedConfig:
    """Write ``data`` as YAML and load it (no environment variables)."""
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return load_config(path, environ={})


def outbox_config(store_url: str, tmp_path: Path, **extra: Any) -> dict[str, Any]:
    """A config with the three platforms as dry-run channels writing under tmp_path."""
    data: dict[str, Any] = {
        "version": 1,
        "timezone": "Europe/Paris",
        "store": {"url": store_url},
        "outbox_dir": str(tmp_path / "outbox"),
        "promo": {
            "text": {"fr": "Rejoins-nous :", "en": "Join us:"},
            "links": [
                {"label": "Telegram", "url": "https://t.me/newsroom", "channel": "telegram"},
                {"label": "Discord", "url": "https://discord.gg/newsroom", "channel": "discord"},
                {
                    "label": "Newsletter",
                    "url": "https://news.example.org/subscribe",
                    "channel": "email",
                },
            ],
        },
        "channels": [
            {"name": "telegram", "platform": "telegram", "dry_run": True, "chat": "@newsroom"},
            {"name": "discord", "platform": "discord", "dry_run": True},
            {"name": "email", "platform": "email", "dry_run": True},
        ],
    }
    data.update(extra)
    return data
