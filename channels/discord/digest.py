"""A Discord digest: one embed, a field per story, within 25 fields and 6,000 characters."""

from __future__ import annotations

from typing import Any

from distributor.fitting import cut_with_ellipsis
from distributor.rendering import Renderer
from distributor.types import DigestItem, DigestView, RenderedMessage
from distributor_channels.discord.config import DiscordChannelConfig
from distributor_channels.discord.payload import (
    EMBEDS_TOTAL_LIMIT,
    TITLE_LIMIT,
    embed_total,
    escape_text,
    escape_url,
    units,
)

MAX_FIELDS = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024


def _cut(text: str, limit: int) -> str:
    if units(text) <= limit:
        return text
    return cut_with_ellipsis(text, lambda t: units(t) <= limit) or "…"


def _field(item: DigestItem, with_summary: bool) -> dict[str, Any]:
    parts = []
    if item.url:
        parts.append(f"[{escape_text('Read')}]({escape_url(item.url)})")
    if with_summary and item.summary:
        parts.append(escape_text(item.summary))
    value = " · ".join(parts) or "​"  # a zero-width space: Discord refuses an empty value
    return {
        "name": _cut(escape_text(item.title), FIELD_NAME_LIMIT),
        "value": _cut(value, FIELD_VALUE_LIMIT),
        "inline": False,
    }


def digest_embed(view: DigestView, colour: int | None = None) -> dict[str, Any]:
    embed: dict[str, Any] = {
        "type": "rich",
        "title": _cut(escape_text(view.title), TITLE_LIMIT),
        "timestamp": view.window_end.isoformat(),
        "fields": [],
    }
    if colour is not None:
        embed["color"] = colour
    if not view.items:
        embed["description"] = escape_text(view.empty_text)
        return embed
    for item in view.items[:MAX_FIELDS]:
        for with_summary in (True, False):
            field = _field(item, with_summary)
            if embed_total({**embed, "fields": [*embed["fields"], field]}) <= EMBEDS_TOTAL_LIMIT:
                embed["fields"].append(field)
                break
        else:
            break
    return embed


def render_digest(
    config: DiscordChannelConfig, renderer: Renderer, view: DigestView
) -> RenderedMessage:
    payload: dict[str, Any] = {
        "embeds": [digest_embed(view, config.colour)],
        "allowed_mentions": {"parse": []},
    }
    if config.mode == "webhook":
        if config.username:
            payload["username"] = config.username
        if config.avatar_url:
            payload["avatar_url"] = config.avatar_url
    return RenderedMessage(payload=payload, summary=f"{view.title}: {len(view.items)} stories")
