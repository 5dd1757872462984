"""What a Discord reader sees of a post: the embed's title and description, in UTF-16 units."""

from __future__ import annotations

from distributor.adapter import OutboxEntry, PayloadBuilder
from distributor.registry import PostPreview
from distributor.types import RenderedMessage
from distributor_channels.discord.config import DiscordChannelConfig
from distributor_channels.discord.payload import EMBEDS_TOTAL_LIMIT, embed_total


def preview(
    config: DiscordChannelConfig, message: RenderedMessage, builder: PayloadBuilder
) -> PostPreview:
    embed = message.payload["embeds"][0]
    parts = [message.payload.get("content"), embed.get("title"), embed.get("description")]
    return PostPreview(
        platform="discord",
        title=f"{config.mode} post to {config.name}",
        text="\n\n".join(p for p in parts if p),
        length=embed_total(embed),
        limit=EMBEDS_TOTAL_LIMIT,
        payload=_sent(builder.outbox_entry("send", message, ())),
        media_type="application/json",
    )


def _sent(entry: OutboxEntry | None) -> bytes:
    # A send always writes its request (only a silent correction may write nothing).
    return entry.content if entry is not None else b""
