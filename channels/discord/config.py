"""The keys of a Discord channel in the admin's YAML: webhook mode or bot mode."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from distributor.config import ChannelConfig

DEFAULT_TEMPLATE = "discord/article.md.j2"
WEBHOOK_URL = re.compile(
    r"^https://(?:(?:ptb|canary)\.)?discord(?:app)?\.com/api(?:/v\d+)?/webhooks/(\d{17,20})/([\w-]{60,})/?$"
)


class DiscordChannelConfig(ChannelConfig):
    platform: Literal["discord"]
    mode: Literal["webhook", "bot"] = "webhook"
    webhook_url: SecretStr | None = None
    thread_id: int | None = Field(default=None, description="post into this thread")
    username: str | None = Field(default=None, min_length=1, max_length=80)
    avatar_url: str | None = None
    token: SecretStr | None = Field(default=None, description="bot token (bot mode)")
    channel_id: int | None = Field(default=None, description="channel id (bot mode)")
    api_base_url: str | None = Field(default=None, description="HTTP proxy in front of the API")
    colour: int = Field(default=0x1F6FEB, ge=0, le=0xFFFFFF)
    source_name: str | None = Field(default=None, max_length=256)
    source_url: str | None = None
    footer: str | None = Field(default=None, max_length=2048)
    mention_role: int | None = Field(
        default=None, description="role pinged for breaking news; the only mention ever allowed"
    )
    mention_min_priority: int = Field(default=10, description="priority that counts as breaking")

    @field_validator("colour", mode="before")
    @classmethod
    def _hex_colour(cls, value: object) -> object:
        if isinstance(value, str):
            match = re.fullmatch(r"#?([0-9a-fA-F]{6})", value.strip())
            if not match:
                raise ValueError("colour must be #RRGGBB or an integer")
            return int(match.group(1), 16)
        return value

    @model_validator(mode="after")
    def _mode_keys(self) -> DiscordChannelConfig:
        if self.dry_run:
            return self
        if self.mode == "webhook":
            if self.webhook_url is None:
                raise ValueError("webhook mode needs webhook_url (e.g. ${DISCORD_WEBHOOK_URL})")
            if not WEBHOOK_URL.match(self.webhook_url.get_secret_value()):
                raise ValueError(
                    "webhook_url must look like https://discord.com/api/webhooks/<id>/<token>"
                )
        elif self.token is None or self.channel_id is None:
            raise ValueError("bot mode needs token (e.g. ${DISCORD_BOT_TOKEN}) and channel_id")
        return self

    def describe_target(self) -> str:
        if self.mode == "bot":
            return f"channel {self.channel_id}"
        webhook = (
            WEBHOOK_URL.match(self.webhook_url.get_secret_value()) if self.webhook_url else None
        )
        where = f"webhook {webhook.group(1)}" if webhook else "webhook"
        return where + (f" thread {self.thread_id}" if self.thread_id else "")
