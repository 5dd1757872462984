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
API_BASE_URL = re.compile(r"^https?://[^\s/?#]+(?:/[^\s?#]*)?$")
# Discord has never said whether its limits count code points or UTF-16 units; config text is
# checked against the stricter reading so that it can never be the part Discord refuses.
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256


def utf16_units(text: str) -> int:
    """Length in UTF-16 code units, ends trimmed (Discord does not count outer whitespace)."""
    return len(text.strip().encode("utf-16-le")) // 2


class DiscordChannelConfig(ChannelConfig):
    """A Discord channel, posted to through a webhook or by a bot, over REST only."""

    platform: Literal["discord"] = Field(description="selects this platform")
    mode: Literal["webhook", "bot"] = Field(
        default="webhook", description="post through a webhook, or as a bot"
    )
    webhook_url: SecretStr | None = Field(
        default=None,
        description="webhook mode: `https://discord.com/api/webhooks/<id>/<token>`, e.g. "
        "`${DISCORD_WEBHOOK_URL}`; required unless `dry_run`, its shape checked always",
    )
    thread_id: int | None = Field(
        default=None, description="webhook mode: post into this thread of the webhook's channel"
    )
    username: str | None = Field(
        default=None,
        min_length=1,
        max_length=80,
        description="webhook mode: the name shown on the posts (the webhook's own if unset)",
    )
    avatar_url: str | None = Field(
        default=None,
        description="webhook mode: the picture shown on the posts (the webhook's own if unset)",
    )
    token: SecretStr | None = Field(
        default=None, description="bot mode: the bot token, e.g. `${DISCORD_BOT_TOKEN}`"
    )
    channel_id: int | None = Field(
        default=None,
        description="bot mode: the channel or thread to post in; webhook mode (optional): the "
        "webhook's channel, only for links to the posts",
    )
    guild_id: int | None = Field(
        default=None,
        description="the server's id (Developer Mode, right-click the server, Copy Server ID); "
        "the desk and the API link to each post only when it is given",
    )
    api_base_url: str | None = Field(
        default=None,
        description="API root, e.g. an HTTP proxy's `https://proxy/api/v10`; one per process, so "
        "every live Discord channel must agree",
    )
    colour: int = Field(
        default=0x1F6FEB,
        ge=0,
        le=0xFFFFFF,
        description="embed colour, `#RRGGBB` or an integer",
        json_schema_extra={"reference_default": '`"#1f6feb"`'},
    )
    source_name: str | None = Field(
        default=None,
        max_length=AUTHOR_LIMIT,
        description=f"the embed's author line (at most {AUTHOR_LIMIT} UTF-16 units)",
    )
    source_url: str | None = Field(default=None, description="the author line's link")
    footer: str | None = Field(
        default=None,
        max_length=FOOTER_LIMIT,
        description=f"the embed's footer (at most {FOOTER_LIMIT} UTF-16 units)",
    )
    mention_role: int | None = Field(
        default=None, description="role pinged for breaking news; the only mention ever allowed"
    )
    mention_min_priority: int = Field(
        default=10, description="a story with at least this priority pings `mention_role`"
    )
    request_timeout_seconds: float = Field(
        default=10.0, gt=0, le=300, description="one HTTP request; a slower answer is retried"
    )
    max_ratelimit_wait_seconds: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        description="a 429 up to this long holds the channel's next request in place; a longer "
        "one is reported at once and the delivery retried later",
    )
    requests_per_second: int = Field(
        default=45, ge=1, le=50, description="pace under Discord's global 50 requests/s"
    )

    @field_validator("colour", mode="before")
    @classmethod
    def _hex_colour(cls, value: object) -> object:
        if isinstance(value, str):
            match = re.fullmatch(r"#?([0-9a-fA-F]{6})", value.strip())
            if not match:
                raise ValueError("colour must be #RRGGBB or an integer")
            return int(match.group(1), 16)
        return value

    @field_validator("api_base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not API_BASE_URL.match(value):
            raise ValueError("api_base_url must be an http(s) URL such as https://proxy/api/v10")
        return value.rstrip("/")

    @field_validator("footer")
    @classmethod
    def _footer_units(cls, value: str | None) -> str | None:
        if value is not None and utf16_units(value) > FOOTER_LIMIT:
            raise ValueError(f"footer must be at most {FOOTER_LIMIT} characters (UTF-16 units)")
        return value

    @field_validator("source_name")
    @classmethod
    def _author_units(cls, value: str | None) -> str | None:
        if value is not None and utf16_units(value) > AUTHOR_LIMIT:
            raise ValueError(
                f"source_name must be at most {AUTHOR_LIMIT} characters (UTF-16 units)"
            )
        return value

    @model_validator(mode="after")
    def _mode_keys(self) -> DiscordChannelConfig:
        if self.mode == "bot":
            webhook_only = [
                key for key in ("thread_id", "username", "avatar_url") if getattr(self, key)
            ]
            if webhook_only:
                raise ValueError(
                    f"{', '.join(webhook_only)}: webhook mode only (in bot mode, "
                    "put a thread's id in channel_id)"
                )
        # A target that is given is checked in a dry run too: a dry run must not pass a URL
        # that the live channel would refuse. Only its absence is allowed there.
        if self.webhook_url is not None and not WEBHOOK_URL.match(
            self.webhook_url.get_secret_value()
        ):
            raise ValueError(
                "webhook_url must look like https://discord.com/api/webhooks/<id>/<token>"
            )
        if self.dry_run:
            return self
        if self.mode == "webhook":
            if self.webhook_url is None:
                raise ValueError("webhook mode needs webhook_url (e.g. ${DISCORD_WEBHOOK_URL})")
        elif self.token is None or self.channel_id is None:
            raise ValueError("bot mode needs token (e.g. ${DISCORD_BOT_TOKEN}) and channel_id")
        return self

    def webhook_id(self) -> int | None:
        """The webhook's id (public: it is in every message the webhook posts)."""
        found = WEBHOOK_URL.match(self.webhook_url.get_secret_value()) if self.webhook_url else None
        return int(found.group(1)) if found else None

    def describe_target(self) -> str:
        if self.mode == "bot":
            return f"channel {self.channel_id}"
        webhook = self.webhook_id()
        where = f"webhook {webhook}" if webhook else "webhook"
        return where + (f" thread {self.thread_id}" if self.thread_id else "")
