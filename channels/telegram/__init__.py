"""Telegram: python-telegram-bot's ``telegram.Bot`` over the Bot API (no polling needed to post)."""

from __future__ import annotations

from channels.telegram.config import DEFAULT_TEMPLATE, TelegramChannelConfig
from channels.telegram.payload import TelegramPayloads
from distributor.registry import platform_spec

SPEC = platform_spec(
    "telegram",
    TelegramChannelConfig,
    TelegramPayloads,
    adapter="channels.telegram.adapter:TelegramAdapter",
    templates=lambda config: [config.template or DEFAULT_TEMPLATE],
)
