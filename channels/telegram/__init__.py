"""Telegram: python-telegram-bot's ``telegram.Bot`` over the Bot API (no polling needed to post)."""

from __future__ import annotations

from distributor.registry import platform_spec
from distributor_channels.telegram.config import DEFAULT_TEMPLATE, TelegramChannelConfig
from distributor_channels.telegram.links import post_url

SPEC = platform_spec(
    "telegram",
    TelegramChannelConfig,
    "distributor_channels.telegram.payload:TelegramPayloads",
    adapter="distributor_channels.telegram.adapter:TelegramAdapter",
    templates=lambda config: [config.template or DEFAULT_TEMPLATE],
    preview="distributor_channels.telegram.preview:preview",
    doctor="distributor_channels.telegram.doctor:check",
    post_url=post_url,
    digest="distributor_channels.telegram.digest:render_digest",
    models="distributor_channels.telegram.models",
    migrations="distributor_channels.telegram.migrations",
    background="distributor_channels.telegram.unpins:background",
)
