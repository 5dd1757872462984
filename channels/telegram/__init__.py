"""Telegram: python-telegram-bot's ``telegram.Bot`` over the Bot API (no polling needed to post)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from channels.telegram.config import DEFAULT_TEMPLATE, TelegramChannelConfig
from channels.telegram.payload import TelegramPayloads
from distributor.config import ChannelConfig
from distributor.registry import PlatformSpec
from distributor.rendering import Renderer

if TYPE_CHECKING:
    from channels.base import AdapterContext, ChannelAdapter, PayloadBuilder


def _config(config: ChannelConfig) -> TelegramChannelConfig:
    if not isinstance(config, TelegramChannelConfig):
        raise TypeError(f"channel {config.name!r} is not a Telegram channel")
    return config


def _templates(config: ChannelConfig) -> Sequence[str]:
    return [config.template or DEFAULT_TEMPLATE]


def _builder(config: ChannelConfig, renderer: Renderer) -> PayloadBuilder:
    return TelegramPayloads(_config(config), renderer)


def _adapter(
    config: ChannelConfig, builder: PayloadBuilder, context: AdapterContext
) -> ChannelAdapter:
    from channels.telegram.adapter import TelegramAdapter  # the client library loads on demand

    assert isinstance(builder, TelegramPayloads)
    return TelegramAdapter(_config(config), builder, context)


SPEC = PlatformSpec(
    name="telegram",
    config_model=TelegramChannelConfig,
    templates=_templates,
    builder=_builder,
    adapter=_adapter,
)
