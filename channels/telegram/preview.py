"""What a Telegram reader sees of a post: the parsed text, counted the way Telegram counts."""

from __future__ import annotations

from distributor.adapter import OutboxEntry, PayloadBuilder
from distributor.registry import PostPreview
from distributor.types import RenderedMessage
from distributor_channels.telegram import html
from distributor_channels.telegram.config import TelegramChannelConfig


def preview(
    config: TelegramChannelConfig, message: RenderedMessage, builder: PayloadBuilder
) -> PostPreview:
    params = message.payload["params"]
    photo = message.payload["method"] == "sendPhoto"
    markup = params["caption"] if photo else params["text"]
    return PostPreview(
        platform="telegram",
        title=f"{message.payload['method']} to {config.chat}",
        text=html.visible_text(markup),
        length=html.length(markup),
        limit=html.CAPTION_LIMIT if photo else html.TEXT_LIMIT,
        payload=_sent(builder.outbox_entry("send", message, ())),
        media_type="application/json",
    )


def _sent(entry: OutboxEntry | None) -> bytes:
    # A send always writes its request (only a silent correction may write nothing).
    return entry.content if entry is not None else b""
