"""Records the fake Discord API keeps: bots, channels, webhooks, messages, requests."""

from __future__ import annotations

import base64
import random
import string
from dataclasses import dataclass, field
from typing import Any

# Discord snowflakes count milliseconds from 2015-01-01; 2024-01-01 gives realistic
# 19-digit ids even when a test injects a clock that starts at 0.
DISCORD_EPOCH_MS = 1_420_070_400_000
_FALLBACK_MS = 1_704_067_200_000
_TOKEN_ALPHABET = string.ascii_letters + string.digits + "-_"
WEBHOOK_TOKEN_LENGTH = 68
WEBHOOK_URL_BASE = "https://discord.com/api/webhooks"


class SnowflakeFactory:
    """Hands out increasing, realistic snowflake ids derived from a clock."""

    def __init__(self, worker: int = 1) -> None:
        self._last = 0
        self._worker = worker & 0x1F

    def next(self, now: float) -> int:
        """Return a new id, strictly greater than every earlier one."""
        ms = int(now * 1000)
        if ms < DISCORD_EPOCH_MS:
            ms = _FALLBACK_MS
        candidate = ((ms - DISCORD_EPOCH_MS) << 22) | (self._worker << 17)
        self._last = max(candidate, self._last + 1)
        return self._last

    def reserve(self, used: int) -> None:
        """Make sure later ids never collide with an explicitly chosen one."""
        self._last = max(self._last, used)


def make_webhook_token(rng: random.Random) -> str:
    """A 68-character token in Discord's alphabet (``[A-Za-z0-9_-]``)."""
    return "".join(rng.choice(_TOKEN_ALPHABET) for _ in range(WEBHOOK_TOKEN_LENGTH))


def make_bot_token(user_id: int, rng: random.Random) -> str:
    """A token shaped like Discord's: base64(user id) . timestamp part . HMAC part."""
    head = base64.b64encode(str(user_id).encode()).decode().rstrip("=")
    mid = "".join(rng.choice(_TOKEN_ALPHABET) for _ in range(6))
    tail = "".join(rng.choice(_TOKEN_ALPHABET) for _ in range(38))
    return f"{head}.{mid}.{tail}"


@dataclass(slots=True)
class FakeBot:
    """A bot account the fake accepts in ``Authorization: Bot <token>``."""

    token: str
    user_id: int
    application_id: int
    name: str = "newsbot"
    discriminator: str = "4821"

    def user_json(self) -> dict[str, Any]:
        """The partial user object used as message author."""
        return {
            "id": str(self.user_id),
            "username": self.name,
            "discriminator": self.discriminator,
            "global_name": None,
            "avatar": None,
            "bot": True,
            "public_flags": 0,
        }


@dataclass(slots=True)
class FakeWebhook:
    """An incoming webhook bound to one channel."""

    id: int
    token: str
    channel_id: int
    guild_id: int
    name: str = "News"

    @property
    def url(self) -> str:
        """A real-looking URL: discord.py's ``Webhook.from_url`` only accepts discord.com."""
        return f"{WEBHOOK_URL_BASE}/{self.id}/{self.token}"


@dataclass(slots=True)
class FakeChannel:
    """A guild text channel, or a thread when ``parent_id`` is set.

    Threads carry no permissions of their own: the parent's flags apply.
    """

    id: int
    guild_id: int
    name: str
    parent_id: int | None = None
    bot_can_view: bool = True
    bot_can_send: bool = True
    bot_can_embed: bool = True
    bot_can_mention_everyone: bool = False
    bot_can_manage_messages: bool = False


@dataclass(slots=True)
class StoredMessage:
    """A message as the fake stores it, for assertions.

    ``channel_id`` is the text channel; ``thread_id`` is set for messages in a thread
    (the wire ``channel_id`` is then the thread id). Times are the fake clock's seconds.
    ``pinged_*`` say who the current version of the message notifies.
    """

    id: int
    channel_id: int
    thread_id: int | None
    author_id: int
    author_name: str
    webhook_id: int | None
    content: str
    embeds: list[dict[str, Any]]
    allowed_mentions: dict[str, Any] | None
    nonce: int | str | None
    pinged_everyone: bool
    pinged_roles: list[int]
    pinged_users: list[int]
    created_at: float
    username: str | None = None
    avatar_url: str | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    tts: bool = False
    flags: int = 0
    edited_at: float | None = None
    edits: int = 0
    deleted_at: float | None = None

    @property
    def where(self) -> int:
        """The id the message lives under: the thread if any, else the channel."""
        return self.thread_id if self.thread_id is not None else self.channel_id


@dataclass(slots=True)
class RecordedRequest:
    """One request the fake received. ``path`` has webhook tokens replaced by ``***``.

    ``status`` is 0 when the connection was dropped without an answer; ``fault`` names the
    injected fault (``"500"``, ``"429"``, ``"timeout"``, ``"drop"``), if any; ``retry_after``
    is the wait a 429 answer asked for.
    """

    time: float
    method: str
    path: str
    route: str | None
    status: int = 0
    query: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    bot_id: int | None = None
    webhook_id: int | None = None
    fault: str | None = None
    retry_after: float | None = None
