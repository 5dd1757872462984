"""Telegram's flood limits, paced before Telegram has to say no (docs/telegram.md).

Each call draws on up to three budgets: the bot's (~30 sends/s over all chats), the group's or
channel's (20/min), the chat's (~1/s). Two layers keep them:

* the shared pacer (``context.pacer``: moving windows in memory, or in Redis so that every
  worker draws on the same budget) caps how many calls go out in each window;
* an even spread in this process: a moving window alone lets a whole window's worth go out at
  once, and a server that measures its window a few milliseconds off (request latency) then
  sees one call too many. Calls are spaced ``window / amount`` apart instead, in the order
  they asked, so a burst waits in line and is never dropped.

Both keep ``safety_margin`` of every limit unused. Budgets are keyed by a digest of the token
(never the token) and the chat, so channels sharing a bot share its budget.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from distributor.pacing import Pacer, Rate, Slot
from distributor_channels.telegram.config import TelegramRates

Operation = Literal["send", "edit", "delete"]


def token_digest(token: str) -> str:
    """A stable, non-reversible name for a bot token, for keys and logs."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def is_private(chat: str) -> bool:
    """Users have positive ids; groups and channels negative ones or an @username."""
    return not chat.startswith("@") and not chat.startswith("-")


@dataclass(frozen=True, slots=True)
class Budget:
    """``limit`` calls per ``window`` seconds under ``key``, less the safety margin.

    ``reserved`` calls of each window are kept out of this budget (for breaking news, which
    draws on a budget of its own under another key): both together stay under the limit.
    """

    key: str
    limit: int
    window: int
    margin: float
    reserved: int = 0

    @property
    def rate(self) -> Rate:
        """The shared moving window: at most this many calls per window, every worker."""
        return Rate(max(1, math.floor(self.limit * (1 - self.margin)) - self.reserved), self.window)

    @property
    def interval(self) -> float:
        """The even spacing in this process that stays under the limit."""
        share = self.limit * (1 - self.margin)
        if self.reserved:  # what the lane leaves, never less than one call a window
            share = max(1.0, share - self.reserved)
        return self.window / share


class Spacer:
    """Starts calls under a key at least ``interval`` apart, first come, first served.

    The gap is measured from when the previous call really started, not from when it was
    booked: after the event loop stalls, waiting calls go out one by one again instead of
    all at once.

    ``asyncio.sleep`` wakes up to a millisecond late, which over a burst of 30 calls a second
    loses a few percent of the allowed rate; so the last ``spin`` seconds of a wait are spent
    yielding to the event loop (other tasks run) rather than sleeping.
    """

    SPIN = 0.002

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._spin = self.SPIN if sleep is asyncio.sleep else 0.0  # test clocks: plain sleeps
        self._free_at: dict[str, float] = {}
        self._turns: dict[str, asyncio.Lock] = {}  # asyncio.Lock wakes its waiters in order

    async def wait(self, key: str, interval: float) -> float:
        """Wait for ``key``'s turn; returns the seconds waited."""
        turn = self._turns.setdefault(key, asyncio.Lock())
        start = self._clock()
        async with turn:
            # A loop, since hold() may push the start back while this call sleeps.
            while (delay := self._free_at.get(key, 0.0) - self._clock()) > 0:
                await self._sleep(delay - self._spin if delay > self._spin else 0)
            now = self._clock()
            self._free_at[key] = now + interval
            waited = now - start
        return waited

    def hold(self, key: str, seconds: float) -> None:
        """Nothing starts under ``key`` for ``seconds`` (Telegram asked to wait)."""
        self._free_at[key] = max(self._free_at.get(key, 0.0), self._clock() + seconds)


# One spacer per pacer: the adapters of one service share it, as they share the bot budget.
_spacers: weakref.WeakKeyDictionary[Pacer, Spacer] = weakref.WeakKeyDictionary()


def spacer_for(pacer: Pacer) -> Spacer:
    """The spacer of the service ``pacer`` belongs to."""
    spacer = _spacers.get(pacer)
    if spacer is None:
        spacer = _spacers[pacer] = Spacer()
    return spacer


class TelegramPacing:
    """Waits until a call to a chat fits every budget it draws on."""

    def __init__(self, rates: TelegramRates, token: str, pacer: Pacer) -> None:
        self.rates = rates
        self.pacer = pacer
        self.spacer = spacer_for(pacer)
        self.prefix = f"telegram:{token_digest(token)}"

    def budgets(self, operation: Operation, chat: str, *, breaking: bool = False) -> list[Budget]:
        """The budgets a call draws on.

        Sends draw on the chat's, the group's and the bot's; edits on the chat's and the
        group's (Telegram counts them per chat, not per bot); deletions on the chat's only.
        A group's posts a minute are split: ``breaking_per_minute`` of them are a budget of
        their own for ``breaking`` calls, so a breaking story never queues behind a backlog
        that keeps the rest of the group's budget full.
        """
        rates, margin = self.rates, self.rates.safety_margin
        found = [Budget(f"{self.prefix}:chat:{chat}", rates.per_chat_per_second, 1, margin)]
        if operation != "delete" and not is_private(chat):
            group = f"{self.prefix}:group:{chat}"
            # Never the whole budget: other posts keep at least one a minute.
            usable = math.floor(rates.per_group_per_minute * (1 - margin))
            lane = max(0, min(rates.breaking_per_minute, usable - 1))
            if breaking and lane > 0:
                found.append(Budget(f"{group}:breaking", lane, 60, 0.0))
            else:
                found.append(Budget(group, rates.per_group_per_minute, 60, margin, lane))
        if operation == "send":
            found.append(Budget(f"{self.prefix}:bot", rates.per_bot_per_second, 1, margin))
        return found

    async def before(self, operation: Operation, chat: str, *, breaking: bool = False) -> float:
        """Block until the call may go out; returns the seconds waited."""
        budgets = self.budgets(operation, chat, breaking=breaking)
        waited = 0.0
        # Slowest budget first: the bot-wide turn is taken only once the chat's has come, so
        # a busy channel does not hold up the other chats behind it.
        for budget in sorted(budgets, key=lambda b: b.interval, reverse=True):
            waited += await self.spacer.wait(budget.key, budget.interval)
        waited += await self.pacer.acquire([Slot(b.rate, b.key) for b in budgets])
        return waited

    def hold(self, chat: str, seconds: float) -> None:
        """Telegram answered 429 for ``chat``: nothing more goes there for ``seconds``."""
        held = self.budgets("edit", chat) + self.budgets("edit", chat, breaking=True)
        for budget in held:
            self.spacer.hold(budget.key, seconds)
