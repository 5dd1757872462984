"""Discord: discord.py over REST only, as a webhook or as a bot (no gateway needed to post)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from channels.discord.config import DEFAULT_TEMPLATE, DiscordChannelConfig
from channels.discord.payload import DiscordPayloads
from distributor.config import ChannelConfig
from distributor.registry import PlatformSpec
from distributor.rendering import Renderer

if TYPE_CHECKING:
    from channels.base import AdapterContext, ChannelAdapter, PayloadBuilder


def _config(config: ChannelConfig) -> DiscordChannelConfig:
    if not isinstance(config, DiscordChannelConfig):
        raise TypeError(f"channel {config.name!r} is not a Discord channel")
    return config


def _templates(config: ChannelConfig) -> Sequence[str]:
    return [config.template or DEFAULT_TEMPLATE]


def _builder(config: ChannelConfig, renderer: Renderer) -> PayloadBuilder:
    return DiscordPayloads(_config(config), renderer)


def _adapter(
    config: ChannelConfig, builder: PayloadBuilder, context: AdapterContext
) -> ChannelAdapter:
    from channels.discord.adapter import DiscordAdapter  # the client library loads on demand

    assert isinstance(builder, DiscordPayloads)
    return DiscordAdapter(_config(config), builder, context)


SPEC = PlatformSpec(
    name="discord",
    config_model=DiscordChannelConfig,
    templates=_templates,
    builder=_builder,
    adapter=_adapter,
)
