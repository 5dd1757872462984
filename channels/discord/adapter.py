"""The Discord channel adapter: a payload builder plus a bot or webhook transport.

Every call runs inside an ``Exchange`` (see ``request_hooks``): paced, with a deadline per request,
and with discord.py's own 5xx retries cut short. Whatever discord.py or aiohttp raises leaves
this module as one of the ``distributor.errors`` classes (see ``errors``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

import discord

from distributor import errors
from distributor.logs import REDACTOR, install_redaction
from distributor.pacing import Rate, Slot
from distributor.send_context import SendContext
from distributor.types import MessageRef, RenderedMessage, SendResult
from distributor_channels.discord import apibase, error_map, request_hooks
from distributor_channels.discord.config import DiscordChannelConfig
from distributor_channels.discord.parts import MessageParts, message_parts
from distributor_channels.discord.payload import DiscordPayloads
from distributor_channels.discord.transport import BotTransport, Transport, WebhookTransport

if TYPE_CHECKING:
    from distributor.adapter import AdapterContext, PayloadBuilder
    from distributor.config import ChannelConfig

T = TypeVar("T")
PLATFORM = error_map.PLATFORM
NONCE_LENGTH = 25  # Discord's maximum


def delivery_nonce(channel: str, context: SendContext, operation: str = "send") -> str:
    """The same 25 characters for every attempt of one delivery's operation.

    With ``enforce_nonce`` Discord answers a repeated create from the same bot in the same
    channel, within a few minutes, with the message it already made.
    """
    digest = hashlib.blake2b(
        f"{channel}\n{context.key}\n{operation}".encode(), digest_size=12
    ).hexdigest()
    return f"n{digest}"[:NONCE_LENGTH]


def pacing_key(config: DiscordChannelConfig) -> str:
    """The budget a channel's requests count against: per bot token, or per webhook.

    A hash, so the secret never reaches Redis; channels sharing a token share the budget.
    """
    if config.mode == "bot" and config.token is not None:
        identity = "bot:" + config.token.get_secret_value()
    else:
        identity = f"webhook:{config.webhook_id()}"
    return "discord:" + hashlib.sha256(identity.encode()).hexdigest()[:24]


class DiscordAdapter:
    """Posts, edits and deletes one Discord channel's stories.

    Args:
        config: The channel's validated configuration.
        builder: Renders articles into Discord-shaped payloads.
        context: What the core provides (clock, pacer, the whole app config).

    Attributes:
        idempotent: True in bot mode: the delivery's nonce folds a resend into the first
            post. False in webhook mode: Execute Webhook has no idempotency key, so after an
            in-doubt failure the channel's ``in_doubt`` policy decides (``resend`` may post
            twice, ``skip`` may post nothing).
    """

    supports_edit = True
    supports_delete = True
    sends_notices = False

    def __init__(
        self, config: DiscordChannelConfig, builder: DiscordPayloads, context: AdapterContext
    ) -> None:
        # Typed as the protocol says; the adapter itself reads the Discord-specific copy.
        self.config: ChannelConfig = config
        self.builder: PayloadBuilder = builder
        self.channel = config
        self.core = context  # what the core provides (operations get a SendContext)
        secret = config.token if config.mode == "bot" else config.webhook_url
        if secret is None:
            raise errors.ConfigError([f"channel {config.name!r}: no {config.mode} credentials"])
        # Before any request exists: discord.py logs webhook URLs (token inside) at DEBUG.
        install_redaction([secret.get_secret_value()])
        self.idempotent = config.mode == "bot"
        self._rules = request_hooks.Rules(
            pacer=context.pacer,
            slots=(Slot(Rate(config.requests_per_second, 1), pacing_key(config)),),
            request_timeout=config.request_timeout_seconds,
            max_ratelimit_wait=config.max_ratelimit_wait_seconds,
        )
        trace = request_hooks.trace_config()
        self._transport: Transport
        if config.mode == "bot":
            assert config.channel_id is not None
            self._transport = BotTransport(
                secret.get_secret_value(),
                config.channel_id,
                trace=trace,
                max_ratelimit_wait=config.max_ratelimit_wait_seconds,
            )
        else:
            webhook_id = config.webhook_id()
            assert webhook_id is not None
            self._transport = WebhookTransport(
                secret.get_secret_value(), webhook_id, thread_id=config.thread_id, trace=trace
            )
        self._login_lock = asyncio.Lock()
        # One request at a time per channel: concurrent posts on a fresh discord.py bucket draw
        # 429s and stall up to 30 s (measured); Discord's per-channel limits leave nothing
        # to gain from overlap, and posts keep their order.
        self._one_at_a_time = asyncio.Lock()
        # When the last 429 said this channel may send again (event-loop time): a 429 ends
        # its call (see ``request_hooks``), and the next call waits here, before any request
        # and so before its delivery is marked started, instead of drawing another 429.
        self._not_before = 0.0
        self._started = False

    def __repr__(self) -> str:
        return (
            f"DiscordAdapter(channel={self.channel.name!r}, mode={self.channel.mode!r}, "
            f"target={self.channel.describe_target()!r})"
        )

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Point discord.py at ``api_base_url`` if set and open the transport (no network)."""
        if self._started:
            return
        self._check_one_api_root()
        if self.channel.api_base_url:
            apibase.claim(self, self.channel.api_base_url, self.channel.name)
        await self._transport.open()
        self._started = True

    def _check_one_api_root(self) -> None:
        roots = {
            channel.api_base_url
            for channel in self.core.app.channels
            if isinstance(channel, DiscordChannelConfig) and channel.enabled and not channel.dry_run
        }
        roots.add(self.channel.api_base_url)
        if len(roots) > 1:
            shown = ", ".join(sorted(repr(r) if r else "(none)" for r in roots))
            raise errors.ConfigError(
                [
                    f"channel {self.channel.name!r}: Discord channels disagree on api_base_url "
                    f"({shown}); discord.py has one API root per process, so set the same "
                    "value on every Discord channel"
                ]
            )

    async def aclose(self) -> None:
        try:
            await self._transport.close()
        finally:
            apibase.release(self)
            self._started = False

    # -- operations --------------------------------------------------------------------------

    async def send(self, message: RenderedMessage, context: SendContext) -> SendResult:
        parts = self._parts(message, "send")
        if not context.notify:
            parts = dataclasses.replace(parts, silent=True)
        reply = context.reply_to
        if reply is not None and reply.kind == "bot" and reply.message_id.isdigit():
            reference = discord.MessageReference(
                message_id=int(reply.message_id),
                channel_id=int(reply.target),
                fail_if_not_exists=False,  # the original deleted meanwhile: post all the same
            )
            parts = dataclasses.replace(parts, reference=reference)
        nonce = delivery_nonce(self.channel.name, context)
        ref = await self._call("send", lambda: self._transport.create(parts, nonce), context)
        return SendResult(refs=(ref,), sent_at=self.core.clock())

    async def edit(
        self, refs: Sequence[MessageRef], message: RenderedMessage, context: SendContext
    ) -> SendResult:
        parts = self._parts(message, "edit")
        for ref in refs:
            self._check_ref(ref, "edit")
            await self._call("edit", self._edit_one(ref, parts), context)
        return SendResult(refs=tuple(refs), sent_at=self.core.clock())

    async def delete(self, refs: Sequence[MessageRef], context: SendContext) -> None:
        missing: list[errors.MessageNotFound] = []
        for ref in refs:
            self._check_ref(ref, "delete")
            try:
                await self._call("delete", self._delete_one(ref), context)
            except errors.MessageNotFound as exc:
                missing.append(exc)  # gone already; still delete the others
        if missing and len(missing) == len(refs):
            raise missing[-1]

    def _edit_one(self, ref: MessageRef, parts: MessageParts) -> Callable[[], Awaitable[None]]:
        return lambda: self._transport.edit(ref, parts)

    def _delete_one(self, ref: MessageRef) -> Callable[[], Awaitable[None]]:
        return lambda: self._transport.delete(ref)

    # -- helpers -----------------------------------------------------------------------------

    def _failure(self, operation: str, text: str) -> errors.PermanentDeliveryError:
        return errors.PermanentDeliveryError(
            text, channel=self.channel.name, platform=PLATFORM, operation=operation
        )

    def _parts(self, message: RenderedMessage, operation: str) -> MessageParts:
        try:
            return message_parts(message.payload, mention_role=self.channel.mention_role)
        except (ValueError, TypeError, KeyError) as exc:
            raise self._failure(operation, f"unusable payload: {exc}") from exc

    def _check_ref(self, ref: MessageRef, operation: str) -> None:
        kind = self._transport.kind
        if ref.kind and ref.kind != kind:
            raise self._failure(
                operation, f"the post was made in {ref.kind} mode; this channel is in {kind} mode"
            )
        if kind == "webhook" and ref.target != str(self.channel.webhook_id()):
            raise self._failure(
                operation,
                f"the post belongs to webhook {ref.target}; only that webhook can change it",
            )
        if not ref.message_id.isdigit() or not ref.target.isdigit():
            raise self._failure(operation, f"not a Discord message reference: {ref.to_json()}")

    async def _ready(self) -> None:
        if not self._started:
            await self.start()
        if self._transport.needs_login:
            async with self._login_lock:
                if self._transport.needs_login:
                    await self._exchange("login", self._transport.login, None)

    async def _call(
        self, operation: str, call: Callable[[], Awaitable[T]], context: SendContext
    ) -> T:
        await self._ready()
        async with self._one_at_a_time:
            await self._wait_out_rate_limit(operation)
            return await self._exchange(operation, call, context)

    async def _wait_out_rate_limit(self, operation: str) -> None:
        """Sleep until the last 429's wait is over; a longer one than the channel lets a
        worker sleep is reported at once (no request was made: nothing is in doubt)."""
        wait = self._not_before - asyncio.get_running_loop().time()
        if wait <= 0:
            return
        if wait > self.channel.max_ratelimit_wait_seconds:
            raise errors.RateLimited(
                f"rate limited [retry after {wait:.3f}s]",
                retry_after=wait,
                channel=self.channel.name,
                platform=PLATFORM,
                operation=operation,
            )
        await asyncio.sleep(wait)

    async def _exchange(
        self, operation: str, call: Callable[[], Awaitable[T]], context: SendContext | None
    ) -> T:
        """Run ``call`` in an exchange; ``context`` is told before each request that may post
        (None for the login, whose requests only read)."""
        exchange = request_hooks.Exchange(self._rules, context)
        token = request_hooks.CURRENT.set(exchange)
        try:
            async with asyncio.timeout(None) as deadline:
                exchange.deadline = deadline
                return await call()
        except errors.DeliveryError:
            raise
        except Exception as exc:
            mapped = error_map.from_exception(
                exc,
                channel=self.channel.name,
                operation=operation,
                written=exchange.written,
                retry_after=exchange.retry_after,
            )
            if isinstance(mapped, errors.RateLimited):
                until = asyncio.get_running_loop().time() + mapped.retry_after
                self._not_before = max(self._not_before, until)
            if mapped is None:
                mapped = errors.TransientDeliveryError(
                    f"unexpected {type(exc).__name__}: {REDACTOR.scrub(str(exc))}",
                    channel=self.channel.name,
                    platform=PLATFORM,
                    operation=operation,
                    in_doubt=exchange.written and operation == "send",
                )
            raise mapped from exc
        finally:
            request_hooks.CURRENT.reset(token)
