"""Commit "sent" for many readers at once, then write each message's final ".".

A message's final ``.`` line is what makes the server accept it; until then, a dropped
connection makes the server throw the message away. So the ledger records "sent" *before* the
dot is written: a crash before the commit leaves the reader "sending" and the next attempt
mails them (the server never accepted the first copy); a crash after it means the dot was on
its way. The commits of all connections are grouped, so one transaction covers every message
that became ready while the previous one ran, and between a commit returning and the dots being
written there is no ``await``: no other task, and no cancellation, can come in between.

What remains is a window of microseconds (the commit is durable, the dots are not yet in the
socket): a SIGKILL or power cut exactly there leaves those readers recorded "sent" without the
server having their message. Nobody is ever mailed twice.

Because "sent" is committed before the ".", a server that refuses the message *after* the "."
(451, 554) leaves a row that says "sent" for a reader who got nothing. That refusal goes through
here too (``record_refused``) and is committed before its connection carries another message,
so a crash loses at most the one message per connection whose "." (or its refusal) was in
flight, never the refusals that came before it.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass, field

import aiosmtplib

from distributor_channels.email.models import SendStatus
from distributor_channels.email.recorder import SentRecorder
from distributor_channels.email.sendlog import Outcome, SendLog

FINAL_DOT = b".\r\n"


@dataclass(eq=False)
class PendingDot:
    """A message whose body is written and whose final "." waits for the ledger."""

    subscriber_id: int
    client: aiosmtplib.SMTP
    committed: bool = False
    dot_written: bool = False
    processed: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(eq=False)
class PendingRefusal:
    """A message the server refused after its "." while the ledger already says "sent"."""

    outcome: Outcome
    recorded: bool = False
    processed: asyncio.Event = field(default_factory=asyncio.Event)


class GroupCommitter:
    """Runs as one task per send; workers ``submit`` and then wait for the server's reply.

    ``lanes`` commits may be in flight at once, each on its own connection. SQLite has one
    writer, so one lane; PostgreSQL spends most of a commit waiting for the WAL flush, and
    flushes concurrent commits together, so a second group commits while the first one waits.
    """

    def __init__(self, log: SendLog, lanes: int = 1, extra_lane_group: int = 1) -> None:
        self.log = log
        # A second lane starts a commit only for a group at least this big; a smaller one
        # waits for the running commit and joins the next group. Fewer, bigger commits leave
        # the CPU to the SMTP side, which needs it more than a few hundred µs of latency.
        self.extra_lane_group = max(1, extra_lane_group)
        self.failure: Exception | None = None
        self.commits = 0
        self._recorders = [SentRecorder(log) for _ in range(max(1, lanes))]
        self._idle = list(self._recorders)
        self._running: set[asyncio.Task[None]] = set()
        self._queue: list[PendingDot] = []
        self._refusals: list[PendingRefusal] = []
        self._wake = asyncio.Event()
        self._closing = False

    def submit(self, subscriber_id: int, client: aiosmtplib.SMTP) -> PendingDot:
        pending = PendingDot(subscriber_id, client)
        self._queue.append(pending)
        self._wake.set()
        return pending

    async def record_refused(self, outcome: Outcome) -> bool:
        """Record a refusal that came after the "." and wait until it is committed.

        The reader's row says "sent" from the commit before the "." on; until this commit a
        crash would leave it so, and the reader would never be mailed. Refusals that arrive
        together share one transaction. Returns False if the store failed (``failure`` says
        why): the caller keeps the outcome and records it later.
        """
        pending = PendingRefusal(outcome)
        self._refusals.append(pending)
        self._wake.set()
        await pending.processed.wait()
        return pending.recorded

    def close(self) -> None:
        """Finish what was submitted, then end ``run``."""
        self._closing = True
        self._wake.set()

    async def run(self) -> None:
        while True:
            if self._idle and (self._refusals or self._group_ready()):
                batch, self._queue = self._queue, []
                refusals, self._refusals = self._refusals, []
                recorder = self._idle.pop()
                task = asyncio.create_task(self._commit(batch, refusals, recorder))
                self._running.add(task)
                task.add_done_callback(functools.partial(self._lane_free, recorder))
                continue
            if self._closing and not self._queue and not self._refusals and not self._running:
                return
            self._wake.clear()
            await self._wake.wait()

    def _group_ready(self) -> bool:
        if not self._queue:
            return False
        return not self._running or len(self._queue) >= self.extra_lane_group

    def _lane_free(self, recorder: SentRecorder, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._idle.append(recorder)
        self._wake.set()

    async def aclose(self) -> None:
        for recorder in self._recorders:
            await recorder.aclose()

    async def _commit(
        self, batch: list[PendingDot], refusals: list[PendingRefusal], record_sent: SentRecorder
    ) -> None:
        undone: list[PendingDot] = []
        if batch:
            undone = await self._commit_sent(batch, record_sent)
        # Readers recorded "sent" whose message the server does not have: the dot could not be
        # written, or the server refused the message after it. Each worker waits for this
        # commit before its connection carries another message.
        outcomes = [
            Outcome(p.subscriber_id, SendStatus.DEFERRED, "connection lost before the final '.'")
            for p in undone
        ] + [r.outcome for r in refusals]
        recorded = False
        if outcomes:
            try:
                await self.log.record(outcomes)
                recorded = True
            except Exception as exc:
                self.failure = exc
        for pending in undone:
            pending.processed.set()
        for refusal in refusals:
            refusal.recorded = recorded
            refusal.processed.set()

    async def _commit_sent(
        self, batch: list[PendingDot], record_sent: SentRecorder
    ) -> list[PendingDot]:
        """Commit "sent", then write the dots; returns the committed ones whose dot failed
        (their ``processed`` is left for the caller to set once that is recorded)."""
        # A connection that already dropped lost its message: do not record it as sent.
        alive = [p for p in batch if p.client.is_connected]
        try:
            recorded = await record_sent([p.subscriber_id for p in alive])
        except Exception as exc:  # the store failed: nothing recorded, so no dot may follow
            self.failure = exc
            for pending in batch:
                pending.client.close()
                pending.processed.set()
            return []
        self.commits += 1
        undone: list[PendingDot] = []
        # From here to the end of the loop there is no await: the dots follow the commit.
        for pending in batch:
            if pending.subscriber_id in recorded:
                pending.committed = True
                pending.dot_written = _write_dot(pending.client)
                if not pending.dot_written:
                    undone.append(pending)
                    continue
            else:
                # Not ours any more (or the connection is gone): let the server discard it.
                pending.client.close()
            pending.processed.set()
        return undone


def _write_dot(client: aiosmtplib.SMTP) -> bool:
    protocol = client.protocol
    if protocol is None:
        return False
    try:
        protocol.write(FINAL_DOT)
    except (aiosmtplib.SMTPServerDisconnected, RuntimeError):
        return False
    return True
