"""Where a Discord post can be opened: ``https://discord.com/channels/<guild>/<channel>/<id>``.

Neither a webhook's answer nor a bot's ref names the server, so links need the channel's
``guild_id``; a webhook's ref does not name its channel either, so webhook posts outside a
thread also need ``channel_id``.
"""

from __future__ import annotations

from distributor.types import MessageRef
from distributor_channels.discord.config import DiscordChannelConfig


def post_url(config: DiscordChannelConfig, ref: MessageRef) -> str | None:
    if config.guild_id is None or not ref.message_id.isdecimal():
        return None
    if ref.kind == "bot":
        channel: str | None = ref.target
    elif ref.kind == "webhook":
        channel = ref.thread or (str(config.channel_id) if config.channel_id else None)
    else:
        return None  # a dry run's outbox file
    if channel is None or not channel.isdecimal():
        return None
    return f"https://discord.com/channels/{config.guild_id}/{channel}/{ref.message_id}"
