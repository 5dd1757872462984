"""Hands readers to the sending connections, claiming them from the ledger in batches."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from distributor_channels.email.sendlog import Claimed, SendLog


class ReaderFeed:
    """Claims ``batch`` readers at a time; checks before each claim that the story still stands.

    A retraction stops the feed: readers not yet claimed are never mailed. ``give_back`` puts a
    reader whose connection broke before the final "." in front of the queue for another one.
    """

    def __init__(
        self,
        log: SendLog,
        article_id: int,
        batch: int,
        on_skipped: Callable[[int], None],
    ) -> None:
        self.log = log
        self.article_id = article_id
        self.batch = batch
        self.on_skipped = on_skipped
        self.retracted = False
        self.stopped = False
        self._exhausted = False
        self._buffer: deque[Claimed] = deque()
        self._lock = asyncio.Lock()

    async def next(self) -> Claimed | None:
        """The next reader to mail, or None when there is nobody left (or we are stopping)."""
        while not self.stopped:
            if self._buffer:
                reader = self._buffer.popleft()
                if self._running_low() and not self._lock.locked():
                    # Claim the next batch now, while the other connections still have work.
                    async with self._lock:
                        if self._running_low():
                            await self._claim()
                return reader
            if self._exhausted:
                return None
            async with self._lock:
                # A claim may hold only readers who left meanwhile: claim until somebody is left.
                while not self._buffer and not self._exhausted and not self.stopped:
                    await self._claim()
        return None

    def _running_low(self) -> bool:
        return len(self._buffer) <= self.batch // 2 and not self._exhausted and not self.stopped

    def give_back(self, reader: Claimed) -> None:
        self._buffer.appendleft(reader)

    def stop(self) -> None:
        self.stopped = True

    async def _claim(self) -> None:
        if await self.log.retracted(self.article_id):
            self.retracted = True
            self._exhausted = True
            return
        readers, skipped = await self.log.claim(self.batch)
        if skipped:
            self.on_skipped(skipped)
        if not readers and not skipped:
            self._exhausted = True
        self._buffer.extend(readers)
