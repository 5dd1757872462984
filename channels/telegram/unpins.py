"""The workers' side of ``pin_hours``: unpin the pinned stories whose time has come.

Every ``distributor run`` worker calls ``run_due`` on its background tick. A due row of
``telegram_pins`` is claimed by one conditional UPDATE (still pinned, no live lease), so of
several workers exactly one unpins it; a worker that dies holding the claim loses it when the
lease runs out, and another one finishes the job. The schedule lives in the store, so a
restart forgets nothing. "Message to unpin not found" (the post is gone, or somebody unpinned
it by hand) counts as done. A refusal (the bot lost the right to pin) is recorded and logged
once; a transient failure is tried again later, backing off.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update
from telegram import error as tg

from distributor import errors, logs
from distributor.adapter import AdapterContext
from distributor.store import Store
from distributor_channels.telegram import error_map
from distributor_channels.telegram.client import BotClient
from distributor_channels.telegram.config import TelegramChannelConfig, TelegramTimeouts
from distributor_channels.telegram.models import PinStatus, TelegramPin
from distributor_channels.telegram.pacing import TelegramPacing
from distributor_channels.telegram.pins import refusal

log = logging.getLogger("distributor.telegram.unpins")

BATCH = 50
LEASE = timedelta(seconds=120)
MAX_ATTEMPTS = 6
# 1, 2, 4, 8, 16 minutes between attempts.
BACKOFF_BASE = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class _Due:
    id: int
    channel: str
    chat: str
    message_id: str
    attempts: int


class UnpinWork:
    """Unpins the due pins of the configured Telegram channels, each exactly once."""

    def __init__(
        self,
        channels: list[TelegramChannelConfig],
        context: AdapterContext,
        store: Store,
        owner: str,
    ) -> None:
        self.channels = {channel.name: channel for channel in channels}
        self.context = context
        self.store = store
        self.owner = owner
        self._clients: dict[tuple[str, str, TelegramTimeouts], BotClient] = {}

    async def run_due(self) -> int:
        """Unpin what is due now; returns how many pins were settled (unpinned or failed)."""
        done = 0
        while True:
            claimed = await self._claim()
            if not claimed:
                return done
            for pin in claimed:
                done += await self._unpin(pin)
            if len(claimed) < BATCH:
                return done

    async def aclose(self) -> None:
        clients, self._clients = self._clients, {}
        for client in clients.values():
            await client.aclose()

    # ------------------------------------------------------------------------- claiming
    async def _claim(self) -> list[_Due]:
        now = self.store.clock()
        free = or_(TelegramPin.lease_expires_at.is_(None), TelegramPin.lease_expires_at < now)
        due = (
            select(TelegramPin)
            .where(
                TelegramPin.status == PinStatus.PINNED,
                TelegramPin.unpin_at <= now,
                TelegramPin.channel.in_(list(self.channels)),
                free,
            )
            .order_by(TelegramPin.unpin_at, TelegramPin.id)
            .limit(BATCH)
        )
        async with self.store.session() as session:
            candidates = [
                _Due(p.id, p.channel, p.chat, p.message_id, p.attempts)
                for p in await session.scalars(due)
            ]
        claimed = []
        for pin in candidates:
            # One statement decides: of two workers claiming the same row, one updates it,
            # the other finds it leased (or settled) and updates nothing.
            async with self.store.session() as session, session.begin():
                taken = await session.execute(
                    update(TelegramPin)
                    .where(TelegramPin.id == pin.id, TelegramPin.status == PinStatus.PINNED, free)
                    .values(lease_owner=self.owner, lease_expires_at=now + LEASE)
                )
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append(pin)
        return claimed

    # ------------------------------------------------------------------------- unpinning
    async def _unpin(self, pin: _Due) -> int:
        channel = self.channels[pin.channel]
        try:
            client = await self._client(channel)
            pacing = TelegramPacing(channel.rates, _token(channel), self.context.pacer)
            await pacing.before("delete", channel.chat)  # the chat's budget, as the adapter's
            await client.call(
                "unpinChatMessage", {"chat_id": pin.chat, "message_id": int(pin.message_id)}
            )
        except tg.TelegramError as exc:
            error = error_map.to_delivery_error(
                exc, channel=channel.name, operation="unpinChatMessage"
            )
            return await self._failed(pin, error)
        await self._settle(pin, PinStatus.UNPINNED, None)
        return 1

    async def _failed(self, pin: _Due, error: errors.DeliveryError) -> int:
        if isinstance(error, errors.MessageNotFound):
            await self._settle(pin, PinStatus.UNPINNED, "already unpinned or gone")
            return 1
        reason = refusal(error)
        attempts = pin.attempts + 1
        if error.retryable and attempts < MAX_ATTEMPTS:
            delay = BACKOFF_BASE * 2 ** (attempts - 1)
            if isinstance(error, errors.RateLimited):
                delay = max(delay, timedelta(seconds=error.retry_after))
            await self._update(
                pin, attempts=attempts, last_error=reason, unpin_at=self.store.clock() + delay
            )
            return 0
        log.warning(
            "telegram channel %r: could not unpin message %s: %s",
            pin.channel,
            pin.message_id,
            reason,
        )
        await self._settle(pin, PinStatus.FAILED, reason, attempts=attempts)
        return 1

    async def _settle(
        self, pin: _Due, status: str, reason: str | None, *, attempts: int | None = None
    ) -> None:
        await self._update(
            pin,
            status=status,
            last_error=reason,
            attempts=pin.attempts if attempts is None else attempts,
        )

    async def _update(self, pin: _Due, **values: object) -> None:
        # Guarded by the lease: a worker whose claim was taken over records nothing.
        async with self.store.session() as session, session.begin():
            await session.execute(
                update(TelegramPin)
                .where(TelegramPin.id == pin.id, TelegramPin.lease_owner == self.owner)
                .values(
                    lease_owner=None, lease_expires_at=None, updated_at=self.store.clock(), **values
                )
            )

    async def _client(self, channel: TelegramChannelConfig) -> BotClient:
        token = _token(channel)
        key = (token, channel.api_base_url or "", channel.timeouts)
        client = self._clients.get(key)
        if client is None:
            logs.install_redaction([token])  # before PTB can log its URL, token inside
            client = BotClient.shared(
                self.context.pacer, token, channel.api_base_url, channel.timeouts
            )
            await client.start()
            self._clients[key] = client
        return client


def _token(channel: TelegramChannelConfig) -> str:
    return channel.token.get_secret_value() if channel.token is not None else ""


def background(context: AdapterContext, owner: str, dry_run: bool) -> UnpinWork | None:
    """The unpin job of the live Telegram channels (a dry run pins nothing)."""
    if context.store is None or dry_run:
        return None
    channels = [
        channel
        for channel in context.app.channels
        if isinstance(channel, TelegramChannelConfig) and not channel.dry_run and channel.token
    ]
    return UnpinWork(channels, context, context.store, owner) if channels else None
