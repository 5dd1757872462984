"""The two ways to post with discord.py over REST only: as a bot, or through a webhook.

Both keep their secret to themselves (no attribute a repr or a log would show) and let
discord.py's exceptions through: the adapter maps them. ``open`` does no network I/O, so a
channel with a bad token or a deleted webhook fails on its first post (and is paused then),
not at service start.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

import aiohttp
import discord

from distributor.types import MessageRef
from distributor_channels.discord.parts import MessageParts

# discord.py warns once per process that voice needs PyNaCl and davey; nothing here speaks.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False


class Transport(Protocol):
    kind: ClassVar[str]

    @property
    def needs_login(self) -> bool: ...

    async def open(self) -> None: ...

    async def login(self) -> None: ...

    async def create(self, parts: MessageParts, nonce: str) -> MessageRef: ...

    async def edit(self, ref: MessageRef, parts: MessageParts) -> None: ...

    async def delete(self, ref: MessageRef) -> None: ...

    async def close(self) -> None: ...


class BotTransport:
    """``discord.Client`` logged in with a bot token, without a gateway connection.

    ``login`` costs two requests (``GET /users/@me`` and ``/oauth2/applications/@me``) and
    happens once, before the first post.
    """

    kind: ClassVar[str] = "bot"

    def __init__(
        self,
        token: str,
        channel_id: int,
        *,
        trace: aiohttp.TraceConfig,
        max_ratelimit_wait: float,
    ) -> None:
        self.__token = token
        self.channel_id = channel_id
        self._trace = trace
        # discord.py refuses less than 30 s; a longer wait raises discord.RateLimited.
        self._max_ratelimit_timeout = max(30.0, max_ratelimit_wait)
        self._client: discord.Client | None = None
        self._logged_in = False

    def __repr__(self) -> str:
        return f"BotTransport(channel_id={self.channel_id})"

    @property
    def needs_login(self) -> bool:
        return not self._logged_in

    async def open(self) -> None:
        if self._client is None:
            # Intents only matter on a gateway connection, which is never opened. "guilds"
            # merely spares the admin discord.py's "Guilds intent seems to be disabled".
            intents = discord.Intents.none()
            intents.guilds = True
            self._client = discord.Client(
                intents=intents,
                allowed_mentions=discord.AllowedMentions.none(),
                http_trace=self._trace,
                max_ratelimit_timeout=self._max_ratelimit_timeout,
            )

    async def login(self) -> None:
        await self.open()
        assert self._client is not None
        try:
            await self._client.login(self.__token)
        except BaseException:
            # A failed login leaves a session behind; the next attempt starts from scratch.
            await self.close()
            raise
        self._logged_in = True

    def _channel(self, channel_id: int) -> discord.PartialMessageable:
        if self._client is None:
            raise RuntimeError("the Discord client is closed")
        return self._client.get_partial_messageable(channel_id)

    async def create(self, parts: MessageParts, nonce: str) -> MessageRef:
        # The nonce makes Discord answer a resend with the message it already has.
        message = await self._channel(self.channel_id).send(
            content=parts.content,
            embeds=parts.embeds,
            allowed_mentions=parts.allowed_mentions,
            nonce=nonce,
            silent=parts.silent,
            reference=parts.reference,  # type: ignore[arg-type]  # None means no reply
        )
        return MessageRef(target=str(message.channel.id), message_id=str(message.id), kind="bot")

    async def edit(self, ref: MessageRef, parts: MessageParts) -> None:
        message = self._channel(int(ref.target)).get_partial_message(int(ref.message_id))
        # content=None clears a breaking-news mention the corrected story no longer earns.
        await message.edit(
            content=parts.content, embeds=parts.embeds, allowed_mentions=parts.allowed_mentions
        )

    async def delete(self, ref: MessageRef) -> None:
        await self._channel(int(ref.target)).get_partial_message(int(ref.message_id)).delete()

    async def close(self) -> None:
        client, self._client = self._client, None
        self._logged_in = False
        if client is not None:
            await client.close()


class WebhookTransport:
    """``discord.Webhook`` on its own aiohttp session; posts wait for the message (``wait``)."""

    kind: ClassVar[str] = "webhook"

    def __init__(
        self, url: str, webhook_id: int, *, thread_id: int | None, trace: aiohttp.TraceConfig
    ) -> None:
        self.__url = url
        self.webhook_id = webhook_id
        self.thread_id = thread_id
        self._trace = trace
        self._session: aiohttp.ClientSession | None = None
        self._webhook: discord.Webhook | None = None

    def __repr__(self) -> str:
        return f"WebhookTransport(webhook_id={self.webhook_id}, thread_id={self.thread_id})"

    @property
    def needs_login(self) -> bool:
        return False

    async def open(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                trace_configs=[self._trace], cookie_jar=aiohttp.DummyCookieJar()
            )
            self._webhook = discord.Webhook.from_url(self.__url, session=self._session)

    async def login(self) -> None:
        await self.open()

    def _hook(self) -> discord.Webhook:
        if self._webhook is None:
            raise RuntimeError("the Discord webhook session is closed")
        return self._webhook

    async def create(self, parts: MessageParts, nonce: str) -> MessageRef:
        # Execute Webhook has no nonce. wait=True makes Discord answer with the message, whose
        # id later edits and deletes need.
        del nonce
        extra: dict[str, Any] = {}
        if parts.content is not None:
            extra["content"] = parts.content
        if parts.username is not None:
            extra["username"] = parts.username
        if parts.avatar_url is not None:
            extra["avatar_url"] = parts.avatar_url
        if self.thread_id is not None:
            extra["thread"] = discord.Object(id=self.thread_id)
        message = await self._hook().send(
            embeds=parts.embeds,
            allowed_mentions=parts.allowed_mentions,
            wait=True,
            silent=parts.silent,
            **extra,
        )
        thread = str(self.thread_id) if self.thread_id is not None else None
        return MessageRef(
            target=str(self.webhook_id), message_id=str(message.id), kind="webhook", thread=thread
        )

    @staticmethod
    def _thread(ref: MessageRef) -> dict[str, Any]:
        return {"thread": discord.Object(id=int(ref.thread))} if ref.thread else {}

    async def edit(self, ref: MessageRef, parts: MessageParts) -> None:
        await self._hook().edit_message(
            int(ref.message_id),
            content=parts.content,
            embeds=parts.embeds,
            allowed_mentions=parts.allowed_mentions,
            **self._thread(ref),
        )

    async def delete(self, ref: MessageRef) -> None:
        await self._hook().delete_message(int(ref.message_id), **self._thread(ref))

    async def close(self) -> None:
        session, self._session, self._webhook = self._session, None, None
        if session is not None:
            await session.close()
