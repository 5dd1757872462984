"""What an adapter call belongs to, and the one duty it owes the dispatcher before posting.

A delivery is "in doubt" after a crash only if its request may have reached the platform.
Pacing can hold a send for minutes (Telegram allows 20 posts a minute in a channel); a
worker killed while waiting must not leave the post in doubt. So the dispatcher does not
mark a delivery started before calling the adapter: it hands the adapter a ``SendContext``,
and the adapter awaits ``context.about_to_send()`` right before each request that may change
something on the platform. The first such call marks the delivery started in the ledger.

Adapters whose writes are idempotent (the outbox) need not call it: they are never in doubt.
A context built outside the dispatcher (tests, alerts) has no hook: calling ``about_to_send``
then only records that it was called.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from distributor import errors
from distributor.types import DeliveryTicket, MessageRef

Hook = Callable[[], Awaitable[None]]


class SendContext:
    """One adapter call's delivery (``ticket``) and its "about to send" signal.

    Args:
        ticket: The delivery the call belongs to.
        hook: Run once, by the first ``about_to_send``; the dispatcher's marks the delivery
            started and raises ``errors.LeaseLost`` when the lease is gone.

    Attributes:
        ticket: The delivery the call belongs to.
        started: Whether ``about_to_send`` has completed (the hook, if any, succeeded): from
            then on a crash leaves the delivery in doubt.
    """

    __slots__ = ("_failure", "_hook", "_lock", "started", "ticket")

    def __init__(self, ticket: DeliveryTicket, hook: Hook | None = None) -> None:
        self.ticket = ticket
        self.started = False
        self._hook = hook
        self._lock = asyncio.Lock()
        self._failure: errors.LeaseLost | None = None

    def __repr__(self) -> str:
        return f"SendContext(key={self.key!r}, attempt={self.attempt}, started={self.started})"

    # -- the ticket's data, so adapters read ``context.key`` rather than ``context.ticket.key``

    @property
    def delivery_id(self) -> int:
        return self.ticket.delivery_id

    @property
    def article_id(self) -> int:
        return self.ticket.article_id

    @property
    def channel(self) -> str:
        return self.ticket.channel

    @property
    def version(self) -> int:
        return self.ticket.version

    @property
    def attempt(self) -> int:
        return self.ticket.attempt

    @property
    def extra(self) -> Mapping[str, Any]:
        return self.ticket.extra

    @property
    def priority(self) -> int:
        return self.ticket.priority

    @property
    def breaking(self) -> bool:
        """A breaking story: it may use the rate budget kept free for breaking news."""
        return self.ticket.breaking

    @property
    def notify(self) -> bool:
        """False: post without a notification (the channel's quiet hours, ``silent`` mode)."""
        return self.ticket.notify

    @property
    def reply_to(self) -> MessageRef | None:
        """The original story's post on this channel, when this one is its follow-up."""
        return self.ticket.reply_to

    @property
    def key(self) -> str:
        """Stable across retries and processes: the adapters' idempotency key."""
        return self.ticket.key

    # -- the duty --------------------------------------------------------------------------

    async def about_to_send(self) -> None:
        """Call just before a request that may change something on the platform.

        Only the first call runs the hook; later (or concurrent) calls wait for it and share
        its outcome, so an adapter may call this before every request of a send.

        Raises:
            errors.LeaseLost: another worker has taken the delivery meanwhile; the request
                must then not be made.
        """
        async with self._lock:
            if self._failure is not None:
                raise self._failure
            if self.started:
                return
            if self._hook is not None:
                try:
                    await self._hook()
                except errors.LeaseLost as exc:
                    self._failure = exc
                    raise
            self.started = True
