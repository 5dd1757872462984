"""The fake Discord API's world: errors, registration, stored messages and lookups.

No HTTP here. Lookups raise :class:`ApiError` with Discord's status, code and message;
the server module turns that into the wire answer. Message operations live in
``discord_messages``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tests.fakes import discord_limits as limits
from tests.fakes.discord_models import (
    FakeBot,
    FakeChannel,
    FakeWebhook,
    SnowflakeFactory,
    StoredMessage,
    make_webhook_token,
)

DEFAULT_GUILD_ID = 1187402731185881090


class ApiError(Exception):
    """An error answer in Discord's JSON shape ``{"code", "message", "errors"?}``."""

    def __init__(
        self, status: int, code: int, message: str, errors: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        """The JSON body Discord sends for this error."""
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def unknown_channel() -> ApiError:
    return ApiError(404, 10003, "Unknown Channel")


def unknown_message() -> ApiError:
    return ApiError(404, 10008, "Unknown Message")


def missing_permissions() -> ApiError:
    return ApiError(403, 50013, "Missing Permissions")


def invalid_form(errors: dict[str, Any]) -> ApiError:
    return ApiError(400, 50035, "Invalid Form Body", errors)


@dataclass(frozen=True, slots=True)
class Upload:
    """A file part of a multipart request."""

    filename: str
    content_type: str
    size: int


def iso(ts: float | None) -> str | None:
    """ISO-8601 UTC timestamp as Discord sends it."""
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


class DiscordRegistry:
    """Registered bots, channels and webhooks, and the messages they hold.

    Attributes:
        messages: ``channel or thread id -> message id -> StoredMessage`` (live messages).
        deleted: Messages deleted through the API, in deletion order.
        nonce_hits: How many creates were answered with an existing message (nonce dedup).
        length_unit: ``"codepoints"`` or ``"utf16"``: how limits count characters.
    """

    def __init__(self, *, clock: Callable[[], float], seed: int) -> None:
        self._clock = clock
        self._rng = random.Random(seed)
        self._ids = SnowflakeFactory()
        self.bots: dict[str, FakeBot] = {}
        self.channels: dict[int, FakeChannel] = {}
        self.webhooks: dict[int, FakeWebhook] = {}
        self.messages: dict[int, dict[int, StoredMessage]] = {}
        self.deleted: list[StoredMessage] = []
        self.nonce_hits = 0
        self.length_unit: limits.LengthUnit = limits.DEFAULT_LENGTH_UNIT
        self._nonces: dict[tuple[int, int, str], tuple[int, float]] = {}
        self._order: list[StoredMessage] = []

    # -- registration ------------------------------------------------------------------

    def _new_id(self, wanted: int | None = None) -> int:
        if wanted is not None:
            self._ids.reserve(wanted)
            return wanted
        return self._ids.next(self._clock())

    def add_bot(
        self,
        token: str,
        *,
        user_id: int | None = None,
        application_id: int | None = None,
        name: str = "newsbot",
    ) -> FakeBot:
        """Register a bot token. The application id defaults to the user id, as for new bots."""
        uid = self._new_id(user_id)
        bot = FakeBot(token=token, user_id=uid, application_id=application_id or uid, name=name)
        self.bots[token] = bot
        return bot

    def add_channel(
        self,
        channel_id: int | None = None,
        *,
        guild_id: int = DEFAULT_GUILD_ID,
        name: str = "news",
        bot_can_view: bool = True,
        bot_can_send: bool = True,
        bot_can_embed: bool = True,
        bot_can_mention_everyone: bool = False,
        bot_can_manage_messages: bool = False,
    ) -> int:
        """Register a guild text channel and return its id."""
        cid = self._new_id(channel_id)
        self.channels[cid] = FakeChannel(
            id=cid,
            guild_id=guild_id,
            name=name,
            bot_can_view=bot_can_view,
            bot_can_send=bot_can_send,
            bot_can_embed=bot_can_embed,
            bot_can_mention_everyone=bot_can_mention_everyone,
            bot_can_manage_messages=bot_can_manage_messages,
        )
        return cid

    def add_thread(
        self, parent_channel_id: int, *, thread_id: int | None = None, name: str = "thread"
    ) -> int:
        """Register a thread under a channel; it uses the parent's permissions."""
        parent = self.channels[parent_channel_id]
        if parent.parent_id is not None:
            raise ValueError("a thread cannot have a thread")
        tid = self._new_id(thread_id)
        self.channels[tid] = FakeChannel(
            id=tid, guild_id=parent.guild_id, name=name, parent_id=parent.id
        )
        return tid

    def add_webhook(
        self,
        channel_id: int,
        *,
        name: str = "News",
        webhook_id: int | None = None,
        token: str | None = None,
    ) -> FakeWebhook:
        """Register an incoming webhook on a (non-thread) channel."""
        channel = self.channels[channel_id]
        if channel.parent_id is not None:
            raise ValueError("webhooks belong to the parent channel, not to a thread")
        hook = FakeWebhook(
            id=self._new_id(webhook_id),
            token=token or make_webhook_token(self._rng),
            channel_id=channel_id,
            guild_id=channel.guild_id,
            name=name,
        )
        self.webhooks[hook.id] = hook
        return hook

    def delete_webhook(self, webhook_id: int) -> None:
        """Delete a webhook: later calls to it get 404 Unknown Webhook."""
        self.webhooks.pop(webhook_id, None)

    def set_permissions(
        self,
        channel_id: int,
        *,
        bot_can_view: bool | None = None,
        bot_can_send: bool | None = None,
        bot_can_embed: bool | None = None,
        bot_can_mention_everyone: bool | None = None,
        bot_can_manage_messages: bool | None = None,
    ) -> None:
        """Change the bot's permissions in a channel; ``None`` leaves a flag unchanged."""
        channel = self.channels[channel_id]
        changes = {
            "bot_can_view": bot_can_view,
            "bot_can_send": bot_can_send,
            "bot_can_embed": bot_can_embed,
            "bot_can_mention_everyone": bot_can_mention_everyone,
            "bot_can_manage_messages": bot_can_manage_messages,
        }
        for attr, value in changes.items():
            if value is not None:
                setattr(channel, attr, value)

    def remove_channel(self, channel_id: int) -> None:
        """Delete a channel with its threads and webhooks (stored messages are kept)."""
        doomed = {channel_id} | {c.id for c in self.channels.values() if c.parent_id == channel_id}
        for cid in doomed:
            self.channels.pop(cid, None)
        for hook in [h for h in self.webhooks.values() if h.channel_id in doomed]:
            del self.webhooks[hook.id]

    def all_messages(self) -> list[StoredMessage]:
        """Live messages in creation order."""
        return [m for m in self._order if m.deleted_at is None]

    # -- lookups -------------------------------------------------------------------------

    def _perm_channel(self, channel: FakeChannel) -> FakeChannel:
        return self.channels[channel.parent_id] if channel.parent_id is not None else channel

    def bot_channel(self, channel_id: int) -> tuple[FakeChannel, FakeChannel]:
        """(channel, channel holding the permissions) or 10003 / 50001."""
        channel = self.channels.get(channel_id)
        if channel is None:
            raise unknown_channel()
        perms = self._perm_channel(channel)
        if not perms.bot_can_view:
            raise ApiError(403, 50001, "Missing Access")
        return channel, perms

    def _find(self, where: int, message_id: int) -> StoredMessage:
        found = self.messages.get(where, {}).get(message_id)
        if found is None:
            raise unknown_message()
        return found

    def webhook_target(self, hook: FakeWebhook, thread_id: int | None) -> int | None:
        """Validate ``?thread_id=`` for a webhook: it must be a thread of its channel."""
        if thread_id is None:
            return None
        thread = self.channels.get(thread_id)
        if thread is None or thread.parent_id != hook.channel_id:
            raise unknown_channel()
        return thread_id
