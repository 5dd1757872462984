"""The keys of a Telegram channel in the admin's YAML."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from distributor.config import ChannelConfig, Strict

DEFAULT_TEMPLATE = "telegram/article.html.j2"


class LinkPreview(Strict):
    enabled: bool = True
    prefer_large_media: bool = False
    show_above_text: bool = False


class TelegramRates(Strict):
    """Pacing below Telegram's flood limits (PLATFORMS.md §1.6); lower them, never raise them."""

    per_bot_per_second: int = Field(default=30, ge=1)
    per_group_per_minute: int = Field(default=20, ge=1)
    per_chat_per_second: int = Field(default=1, ge=1)


class TelegramChannelConfig(ChannelConfig):
    platform: Literal["telegram"]
    token: SecretStr | None = None
    chat: str = Field(description="@channelname or numeric chat id")
    topic: int | None = Field(default=None, description="forum topic (message_thread_id)")
    link_preview: LinkPreview = LinkPreview()
    disable_notification: bool = False
    protect_content: bool = False
    images: bool = Field(default=True, description="post stories with an image as a photo")
    api_base_url: str | None = Field(default=None, description="self-hosted Bot API server")
    rates: TelegramRates = TelegramRates()

    @field_validator("chat", mode="before")
    @classmethod
    def _chat(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str) and not re.fullmatch(r"@[A-Za-z][A-Za-z0-9_]{3,}|-?\d+", value):
            raise ValueError("must be @channelname or a numeric chat id")
        return value

    @model_validator(mode="after")
    def _token_unless_dry_run(self) -> TelegramChannelConfig:
        if not self.dry_run and (self.token is None or not self.token.get_secret_value()):
            raise ValueError("token is required (e.g. token: ${TELEGRAM_BOT_TOKEN}) unless dry_run")
        return self

    def describe_target(self) -> str:
        return f"{self.chat}" + (f" topic {self.topic}" if self.topic is not None else "")
