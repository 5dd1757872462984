"""Discord: discord.py over REST only, as a webhook or as a bot (no gateway needed to post)."""

from __future__ import annotations

from channels.discord.config import DEFAULT_TEMPLATE, DiscordChannelConfig
from channels.discord.payload import DiscordPayloads
from distributor.registry import platform_spec

SPEC = platform_spec(
    "discord",
    DiscordChannelConfig,
    DiscordPayloads,
    adapter="channels.discord.adapter:DiscordAdapter",
    templates=lambda config: [config.template or DEFAULT_TEMPLATE],
)
