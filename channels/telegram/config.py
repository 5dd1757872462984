"""The keys of a Telegram channel in the admin's YAML."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from distributor.config import ChannelConfig, Strict

DEFAULT_TEMPLATE = "telegram/article.html.j2"


class LinkPreview(Strict):
    """The preview of the story's link under a text post (photo posts have none)."""

    enabled: bool = Field(default=True, description="show the preview under text posts")
    prefer_large_media: bool = Field(default=False, description="a large picture in the preview")
    show_above_text: bool = Field(default=False, description="the preview above the text")


class TelegramRates(Strict):
    """Pacing below Telegram's flood limits; lower them, never raise them.

    ``safety_margin`` is the share of each limit left unused: the pacer measures time on this
    machine, Telegram on its own, and the request latency between the two must not turn a
    paced burst into a 429.
    """

    per_bot_per_second: int = Field(
        default=30, ge=1, description="messages a second for all chats of one bot token together"
    )
    per_group_per_minute: int = Field(
        default=20, ge=1, description="messages a minute in each group, supergroup or channel"
    )
    per_chat_per_second: int = Field(default=1, ge=1, description="messages a second in each chat")
    safety_margin: float = Field(
        default=0.1, ge=0.0, le=0.5, description="share of every limit left unused"
    )
    breaking_per_minute: int = Field(
        default=2,
        ge=0,
        description="of each group's or channel's posts a minute, how many are kept for breaking "
        "stories (`dispatch.breaking_priority`), so one goes out within a second or two even "
        "behind a backlog; other posts use the rest (always at least one a minute). 0: breaking "
        "stories wait their turn",
    )


class TelegramTimeouts(Strict):
    """Seconds python-telegram-bot waits on the Bot API (its defaults are 5, 5, 5 and 1)."""

    connect: float = Field(default=5.0, gt=0, description="opening a connection")
    read: float = Field(
        default=10.0, gt=0, description="waiting for the answer; a send that times out is in doubt"
    )
    write: float = Field(default=10.0, gt=0, description="sending the request")
    pool: float = Field(default=5.0, gt=0, description="waiting for a free connection")


class TelegramChannelConfig(ChannelConfig):
    """A Telegram channel, group, forum topic or private chat, posted to by a bot."""

    platform: Literal["telegram"] = Field(description="selects this platform")
    token: SecretStr | None = Field(
        default=None,
        description="the bot token from @BotFather, e.g. `${TELEGRAM_BOT_TOKEN}`; required "
        "unless `dry_run`",
    )
    chat: str = Field(
        description='`@username` or the numeric chat id (quote it: `"-1001234567890"`)'
    )
    topic: int | None = Field(
        default=None, description="forum topic id (`message_thread_id`); none for General"
    )
    link_preview: LinkPreview = Field(
        default=LinkPreview(), description="the preview of the story's link under text posts"
    )
    disable_notification: bool = Field(default=False, description="post silently")
    protect_content: bool = Field(default=False, description="forbid forwarding and saving")
    images: bool = Field(
        default=True, description="stories with an image go out as a photo with a caption"
    )
    api_base_url: str | None = Field(
        default=None,
        description="your own Bot API server, up to `/bot`, e.g. `http://127.0.0.1:8081/bot`",
    )
    rates: TelegramRates = Field(
        default=TelegramRates(), description="pacing below Telegram's flood limits"
    )
    timeouts: TelegramTimeouts = Field(
        default=TelegramTimeouts(), description="seconds to wait on the Bot API"
    )
    pin_priority: int | None = Field(
        default=None,
        ge=1,
        le=10,
        description="a story at or above this priority (1-10) is pinned in the chat once it is "
        "posted, silently during quiet hours in `silent` mode; the bot needs the right to pin "
        "(channels: 'Edit messages of others', groups: 'Pin messages'). None: never pin",
    )
    pin_hours: float | None = Field(
        default=None,
        gt=0,
        description="unpin a pinned story after this many hours (any worker does it, once); "
        "None: it stays pinned until somebody unpins it",
    )

    @field_validator("chat", mode="before")
    @classmethod
    def _chat(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str) and not re.fullmatch(r"@[A-Za-z][A-Za-z0-9_]{3,}|-?\d+", value):
            raise ValueError("must be @channelname or a numeric chat id")
        return value

    @field_validator("api_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http(s) URL, e.g. http://127.0.0.1:8081/bot")
        return value

    @model_validator(mode="after")
    def _token_unless_dry_run(self) -> TelegramChannelConfig:
        if not self.dry_run and (self.token is None or not self.token.get_secret_value()):
            raise ValueError("token is required (e.g. token: ${TELEGRAM_BOT_TOKEN}) unless dry_run")
        return self

    @model_validator(mode="after")
    def _pin_hours_need_pinning(self) -> TelegramChannelConfig:
        if self.pin_hours is not None and self.pin_priority is None:
            raise ValueError("pin_hours needs pin_priority: without it nothing is pinned")
        return self

    def describe_target(self) -> str:
        return f"{self.chat}" + (f" topic {self.topic}" if self.topic is not None else "")
