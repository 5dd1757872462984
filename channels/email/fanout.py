"""One story to one list: several SMTP connections in parallel, paced, recorded per reader.

Each connection is a worker: take a reader from the feed, wait for the shared pacer, run the
two-phase transaction (``exchange``), record the outcome. A stop request (the send was
cancelled) lets every worker finish the message it has in flight and then end, so cancelling a
send never leaves a message half-recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import aiosmtplib

from distributor import errors, metrics
from distributor.adapter import ProgressSink
from distributor.pacing import Pacer, Rate, Slot
from distributor_channels.email import exchange as smtp_exchange
from distributor_channels.email import smtp
from distributor_channels.email.config import EmailChannelConfig
from distributor_channels.email.dkim import DkimSigner
from distributor_channels.email.feed import ReaderFeed
from distributor_channels.email.groupcommit import GroupCommitter
from distributor_channels.email.message import Recipient, StoryMessage
from distributor_channels.email.models import SendStatus
from distributor_channels.email.sendlog import Claimed, Outcome, SendLog

CLAIM_PER_CONNECTION = 50
CONNECT_TRIES = 3
CONNECT_BACKOFF_SECONDS = 0.5
SIGNING_THREADS = 2


def claim_batch(config: EmailChannelConfig) -> int:
    """About one second of sending, at most 50 per connection: small enough that a retraction
    (checked before each claim) stops the send within a second, large enough to keep the ledger
    writes few."""
    per_second = round(config.rate_per_second)
    return max(config.connections, min(per_second, CLAIM_PER_CONNECTION * config.connections))


def extra_lane_group(config: EmailChannelConfig) -> int:
    """The smallest group a second commit lane takes: half the connections (at least two).

    Measured on PostgreSQL with 8 connections on a busy 2-CPU machine: a lane for every ready
    message made groups of 1.9 messages, this rule groups of 3.8, at rates within the noise
    of each other (docs/benchmarks.md); fewer commits leave the CPU to the SMTP side.
    """
    return max(2, config.connections // 2)


def rate_slot(config: EmailChannelConfig) -> Slot:
    """The channel's budget in the shared pacer (fractional rates become "1 per N seconds")."""
    per_second = config.rate_per_second
    whole = per_second >= 1
    rate = Rate(round(per_second), 1) if whole else Rate(1, max(1, round(1 / per_second)))
    return Slot(rate, f"email:{config.name}")


@dataclass
class Report:
    """What one attempt did; the adapter turns it into a result or an error."""

    total: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    retracted: bool = False
    fatal: errors.DeliveryError | None = None
    transient: errors.DeliveryError | None = None
    stopped: bool = False
    commits: int = 0  # group commits of "sent" (each covers every message ready at the time)


class FanOut:
    def __init__(
        self,
        *,
        config: EmailChannelConfig,
        story: StoryMessage,
        tags: Sequence[str] | None,  # the readers' topics that get it; None: every reader
        log: SendLog,
        article_id: int,
        recipient: Callable[[Claimed], Recipient],
        pacer: Pacer,
        progress: ProgressSink | None,
        progress_key: str,
        signer: DkimSigner | None,
        commit_lanes: int = 1,
        envelope: Callable[[Claimed], str] | None = None,
    ) -> None:
        self.config = config
        self.story = story
        self.tags = tags
        self.log = log
        self.article_id = article_id
        self.recipient = recipient
        self.pacer = pacer
        self.progress = progress
        self.progress_key = progress_key
        # Canonicalised once per story; each reader's copy then costs a hash and a signature.
        self.signer = signer.for_story(story.template, story.markers.all) if signer else None
        # OpenSSL signs without holding the GIL: in threads, signatures run on another core
        # while the event loop drives the SMTP connections.
        self._signing = ThreadPoolExecutor(SIGNING_THREADS, "dkim") if signer else None
        self.slots = [rate_slot(config)]
        self.sender = config.sender.encode("ascii")  # parsed once: it is on every MAIL FROM
        self.envelope = envelope  # a Return-Path per reader and story (VERP), when configured
        self.committer = GroupCommitter(
            log, lanes=commit_lanes, extra_lane_group=extra_lane_group(config)
        )
        self.feed = ReaderFeed(log, article_id, claim_batch(config), self._count_done)
        self.report = Report()
        self._retried: set[int] = set()
        self._done = 0
        self._reported = -1
        self._outcomes: list[Outcome] = []

    def stop(self) -> None:
        """Finish the messages in flight, start no new one."""
        self.report.stopped = True
        self.feed.stop()

    async def run(self) -> Report:
        report = self.report
        report.total = await self.log.populate(self.config.list_name, self.tags)
        await self.log.reopen()
        before = await self.log.counts()
        self._done = sum(before.get(status, 0) for status in SendStatus.DONE)
        self._publish(force=True)
        if before.get(SendStatus.PENDING, 0):
            committer = asyncio.create_task(self.committer.run())
            try:
                await asyncio.gather(*(self._worker() for _ in range(self.config.connections)))
            finally:
                self.committer.close()
                await committer
                await self.committer.aclose()
                await self._flush_outcomes()
                await self.log.release()
                if self._signing is not None:
                    self._signing.shutdown(wait=False)
        report.retracted = self.feed.retracted
        report.commits = self.committer.commits
        if self.committer.failure is not None and report.transient is None:
            report.transient = self._error(f"the send ledger failed: {self.committer.failure}")
        report.counts = await self.log.counts()
        metrics.email_messages(self.config.list_name, before, report.counts)
        self._publish(force=True)
        return report

    async def _worker(self) -> None:
        client: aiosmtplib.SMTP | None = None
        try:
            while self.report.fatal is None and self.committer.failure is None:
                reader = await self.feed.next()
                if reader is None:
                    return
                if client is None or not client.is_connected:
                    client = await self._connect()
                    if client is None:
                        self.feed.give_back(reader)
                        return
                try:
                    await self.pacer.acquire(self.slots)
                    await self._deliver(client, reader)
                except smtp_exchange.ConnectionLost as lost:
                    client = None
                    self._connection_lost(reader, lost)
                except Exception as exc:  # a bug or an unexpected library error: stop cleanly
                    client.close()
                    client = None
                    self.report.transient = self.report.transient or self._error(
                        f"unexpected error: {type(exc).__name__}: {exc}"
                    )
                    self.stop()
                    return
        finally:
            if client is not None:
                await smtp.close_quietly(client)

    async def _connect(self) -> aiosmtplib.SMTP | None:
        """A connection, or None after recording why there is none (the worker then ends)."""
        for attempt in range(CONNECT_TRIES):
            try:
                client = await smtp.connect(self.config)
            except errors.ChannelBroken as exc:
                self._fatal(exc)
                return None
            except errors.TransientDeliveryError as exc:
                self.report.transient = self.report.transient or exc
                if attempt + 1 < CONNECT_TRIES and not self.report.stopped:
                    await asyncio.sleep(CONNECT_BACKOFF_SECONDS * (attempt + 1))
                    continue
                return None
            if self.story.eight_bit and not client.supports_extension("8bitmime"):
                await smtp.close_quietly(client)
                self._fatal(
                    errors.ChannelBroken(
                        "the server does not accept 8-bit messages (no 8BITMIME)",
                        channel=self.config.name,
                        platform=smtp.PLATFORM,
                        operation="connect",
                    )
                )
                return None
            return client
        return None

    async def _deliver(self, client: aiosmtplib.SMTP, reader: Claimed) -> None:
        try:
            recipient = self.recipient(reader)
            sender = self.sender
            if self.envelope is not None:
                sender = self.envelope(reader).encode("ascii")
            data = self.story.wire(recipient)
            if self.signer is not None:
                values = recipient.values()
                loop = asyncio.get_running_loop()
                data = await loop.run_in_executor(self._signing, self.signer.headers, values) + data
        except ValueError as exc:  # an address no header may carry (stored by another tool?)
            await self._add_outcome(Outcome(reader.subscriber_id, SendStatus.FAILED, str(exc)))
            self._count_done(1)
            return
        options = [b"BODY=8BITMIME"] if self.story.eight_bit else []
        if client.supports_extension("size"):
            options.append(b"SIZE=%d" % (len(data) + 3))
        try:
            result = await smtp_exchange.exchange(
                client,
                reader,
                data,
                sender=sender,
                mail_options=options,
                committer=self.committer,
                read_timeout=self._timeout(),
            )
        except smtp_exchange.SenderRefused as exc:
            await smtp.close_quietly(client)
            self._fatal(
                errors.ChannelBroken(
                    f"the server refuses the sender {self.config.sender}: {exc.message}",
                    channel=self.config.name,
                    platform=smtp.PLATFORM,
                    operation="MAIL FROM",
                    status=exc.code,
                )
            )
            self.feed.give_back(reader)
            return
        if result.outcome is not None and not result.recorded:
            await self._add_outcome(result.outcome)
        self._count_done(1)

    def _connection_lost(self, reader: Claimed, lost: smtp_exchange.ConnectionLost) -> None:
        # Once per reader: a reader whose message keeps breaking connections waits for later.
        if lost.retry and reader.subscriber_id not in self._retried:
            self._retried.add(reader.subscriber_id)
            self.feed.give_back(reader)
            return
        if lost.retry:
            self._outcomes.append(
                Outcome(reader.subscriber_id, SendStatus.DEFERRED, f"connection lost: {lost}")
            )
        self._count_done(1)

    async def _add_outcome(self, outcome: Outcome) -> None:
        self._outcomes.append(outcome)
        if len(self._outcomes) >= 100:
            await self._flush_outcomes()

    async def _flush_outcomes(self) -> None:
        outcomes, self._outcomes = self._outcomes, []
        if outcomes:
            try:
                await self.log.record(outcomes)
            except Exception as exc:
                self.report.transient = self._error(f"the send ledger failed: {exc}")
                self.stop()

    def _fatal(self, exc: errors.DeliveryError) -> None:
        self.report.fatal = self.report.fatal or exc
        self.stop()

    def _timeout(self) -> float:
        return self.config.smtp.timeout_seconds if self.config.smtp is not None else 30.0

    def _error(self, message: str) -> errors.TransientDeliveryError:
        return errors.TransientDeliveryError(
            message, channel=self.config.name, platform=smtp.PLATFORM, operation="send"
        )

    def _count_done(self, n: int) -> None:
        self._done += n
        self._publish()

    def _publish(self, *, force: bool = False) -> None:
        if self.progress is None:
            return
        total = self.report.total
        step = max(1, total // 200)
        if force or self._done - self._reported >= step or self._done >= total:
            self._reported = self._done
            with contextlib.suppress(Exception):  # a progress bar must never stop a send
                self.progress.update(self.config.name, self.progress_key, self._done, total)
