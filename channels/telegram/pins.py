"""Pinning breaking stories, from the adapter's side: pin after the post, unpin on withdrawal.

A pin is an extra: the story is out once ``sendMessage``/``sendPhoto`` succeeded, so a pin
Telegram refuses (the bot may post but not pin) never fails the delivery, which would post
the story again. It is logged and recorded as the delivery's outcome ("posted, not pinned:
…") instead. Each pin is stored in ``telegram_pins`` with the time it is to be unpinned, which
the workers' background job (``unpins``) acts on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from telegram import error as tg

from distributor import errors
from distributor.clock import Clock
from distributor.send_context import SendContext
from distributor.store import Store
from distributor.types import MessageRef, SendResult
from distributor_channels.telegram import error_map
from distributor_channels.telegram.config import TelegramChannelConfig
from distributor_channels.telegram.models import PinStatus, TelegramPin

log = logging.getLogger("distributor.telegram.pins")

# The adapter's paced call with its rescues: (method, params, notes, context) -> result.
Call = Callable[[str, Mapping[str, Any], list[str], SendContext], Awaitable[object]]

_RIGHTS = ("rights", "admin", "forbidden", "kicked", "not a member")
RIGHTS_HINT = (
    "give the bot the right to pin messages (channels: 'Edit messages of others'; "
    "groups: 'Pin messages')"
)


def refusal(exc: errors.DeliveryError) -> str:
    """Why Telegram did not pin or unpin, in words for the admin (never a secret)."""
    cause = exc.__cause__
    text = error_map.text_of(cause) if isinstance(cause, tg.TelegramError) else exc.reason
    if exc.status == 403 or any(fragment in text.lower() for fragment in _RIGHTS):
        return f"{text}; {RIGHTS_HINT}"
    return text


class Pinner:
    """Pins one channel's qualifying posts and unpins its withdrawn ones."""

    def __init__(
        self, config: TelegramChannelConfig, call: Call, store: Store | None, clock: Clock
    ) -> None:
        self.config = config
        self.call = call
        self.store = store
        self.clock = clock

    def wanted(self, context: SendContext) -> bool:
        """Whether a story of this priority is pinned on this channel."""
        threshold = self.config.pin_priority
        return threshold is not None and context.priority >= threshold

    async def pin(self, result: SendResult, context: SendContext, *, silent: bool) -> SendResult:
        """Pin the post just sent; a refusal is recorded in the result, never raised."""
        ref = result.refs[0]
        notes = [result.note] if result.note else []
        params = {
            "chat_id": ref.target,
            "message_id": int(ref.message_id),
            # Pinning notifies the members unless told not to: as quiet as the post itself.
            "disable_notification": silent,
        }
        try:
            await self.call("pinChatMessage", params, notes, context)
        except errors.DeliveryError as exc:
            reason = refusal(exc)
            log.warning(
                "telegram channel %r: story posted but not pinned: %s", self.config.name, reason
            )
            notes.append(f"not pinned: {reason}")
            return SendResult(
                result.refs,
                result.sent_at,
                "; ".join(notes),
                outcome=f"posted, not pinned: {reason}",
            )
        until = self._unpin_at()
        outcome = "pinned" if until is None else f"pinned until {until:%Y-%m-%d %H:%M} UTC"
        try:
            await self._record(ref, context.delivery_id, until)
        except SQLAlchemyError as exc:
            log.warning(
                "telegram channel %r: pinned, but the unpin could not be scheduled: %s",
                self.config.name,
                type(exc).__name__,
            )
            outcome = "pinned, but the unpin could not be scheduled (the store failed)"
        notes.append(outcome)
        return SendResult(result.refs, result.sent_at, "; ".join(notes), outcome=outcome)

    async def unpin_withdrawn(
        self, refs: Sequence[MessageRef], context: SendContext, notes: list[str]
    ) -> None:
        """Unpin the posts a retraction has just edited into its withdrawal notice.

        Only posts this channel pinned (and has not unpinned yet) cost a call; a refusal is
        noted and logged, and the withdrawal stands.
        """
        for pin in await self._pinned(refs):
            params = {"chat_id": pin.chat, "message_id": int(pin.message_id)}
            try:
                await self.call("unpinChatMessage", params, notes, context)
            except errors.MessageNotFound:
                pass  # nothing pinned there any more: what the withdrawal wants
            except errors.DeliveryError as exc:
                reason = refusal(exc)
                log.warning(
                    "telegram channel %r: withdrawn story not unpinned: %s",
                    self.config.name,
                    reason,
                )
                notes.append(f"not unpinned: {reason}")
                continue
            await self._mark_unpinned(pin.id)
            notes.append("unpinned")

    async def deleted(self, refs: Sequence[MessageRef]) -> None:
        """Posts deleted from Telegram are pinned no more: nothing left for the job to unpin."""
        for pin in await self._pinned(refs):
            await self._mark_unpinned(pin.id)

    # -------------------------------------------------------------------------- the table
    def _unpin_at(self) -> datetime | None:
        hours = self.config.pin_hours
        return None if hours is None else self.clock() + timedelta(hours=hours)

    async def _record(self, ref: MessageRef, delivery_id: int, until: datetime | None) -> None:
        if self.store is None:
            return
        now = self.clock()
        values: dict[str, Any] = {
            "channel": self.config.name,
            "delivery_id": delivery_id,
            "status": PinStatus.PINNED,
            "pinned_at": now,
            "unpin_at": until,
            "attempts": 0,
            "last_error": None,
            "lease_owner": None,
            "lease_expires_at": None,
            "updated_at": now,
        }
        where = (TelegramPin.chat == ref.target, TelegramPin.message_id == ref.message_id)
        async with self.store.session() as session, session.begin():
            found = await session.scalar(select(TelegramPin.id).where(*where))
            if found is None:
                session.add(TelegramPin(chat=ref.target, message_id=ref.message_id, **values))
            else:  # pinned again (a resend after a crash): the newer schedule wins
                await session.execute(update(TelegramPin).where(*where).values(**values))

    async def _pinned(self, refs: Sequence[MessageRef]) -> list[TelegramPin]:
        if self.store is None or not refs:
            return []
        wanted = {(ref.target, ref.message_id) for ref in refs}
        async with self.store.session() as session:
            rows = await session.scalars(
                select(TelegramPin).where(
                    TelegramPin.channel == self.config.name,
                    TelegramPin.status == PinStatus.PINNED,
                    TelegramPin.message_id.in_([m for _, m in wanted]),
                )
            )
            return [row for row in rows if (row.chat, row.message_id) in wanted]

    async def _mark_unpinned(self, pin_id: int) -> None:
        assert self.store is not None
        async with self.store.session() as session, session.begin():
            await session.execute(
                update(TelegramPin)
                .where(TelegramPin.id == pin_id, TelegramPin.status == PinStatus.PINNED)
                .values(status=PinStatus.UNPINNED, updated_at=self.clock())
            )
