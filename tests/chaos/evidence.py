"""What the fakes saw, read back to tell a loss the design allows from one it does not.

A SIGKILL can always cost what was on the wire at that instant; nothing else. These helpers
find, for each story or reader that never got its message, the request or SMTP transaction the
killed worker had in flight, and report the losses that no such in-flight work explains.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tests.chaos.world import story_numbers
from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.smtp import FakeSMTP

EXECUTE_WEBHOOK = "POST /webhooks/{webhook_id}/{webhook_token}"


# -- email -----------------------------------------------------------------------------------


def email_deliveries(smtp: FakeSMTP) -> Counter[tuple[str, int]]:
    """How many times the server accepted each (reader, story)."""
    accepted: Counter[tuple[str, int]] = Counter()
    for received in smtp.messages:
        for story in story_numbers([str(received.message["Subject"])]):
            for reader in received.rcpt_to:
                accepted[(reader, story)] += 1
    return accepted


def unexplained_email_losses(
    smtp: FakeSMTP, lost: Iterable[tuple[str, int]]
) -> list[tuple[str, int]]:
    """The lost (reader, story) pairs that no killed connection had in flight.

    The documented window: the ledger records "sent" before the final "." and records a
    refusal of that "." before the connection carries another message, so a kill costs at
    most the one message per connection whose "." (or its refusal) was in flight: the last
    transaction of a connection that ended without QUIT, never accepted. Each such connection
    explains one lost pair: for its reader, and for its story when the "." arrived (without
    the "." the server never saw which story it was).
    """
    known: Counter[tuple[str, int]] = Counter()
    unknown: Counter[str] = Counter()
    for connection in smtp.connections:
        if connection.quit or not connection.transactions:
            continue
        last = connection.transactions[-1]
        if last.accepted or len(last.rcpt_to) != 1:
            continue
        stories = story_numbers([last.data.decode(errors="replace")]) if last.data else Counter()
        if stories:
            known[(last.rcpt_to[0], next(iter(stories)))] += 1
        else:
            unknown[last.rcpt_to[0]] += 1
    unexplained = []
    for reader, story in sorted(lost):
        if known[(reader, story)]:
            known[(reader, story)] -= 1
        elif unknown[reader]:
            unknown[reader] -= 1
        else:
            unexplained.append((reader, story))
    return unexplained


# -- Discord webhook -------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookLoss:
    """A story the webhook never posted, with the last request the fake saw for it."""

    story: int
    last_status: int | None = None  # None: the fake never saw a request for it
    last_time: float = 0.0
    retry_after: float = 0.0
    kill_after: float | None = None  # seconds from that request to the next kill


def webhook_posts(fake: FakeDiscordAPI, channel_id: int) -> Counter[int]:
    messages = fake.messages.get(channel_id, {}).values()
    return story_numbers([str(m.embeds[0].get("title", "")) for m in messages if m.embeds])


def webhook_losses(
    fake: FakeDiscordAPI, channel_id: int, stories: int, kill_times: Sequence[float]
) -> list[WebhookLoss]:
    """Every story never posted, and what the fake last saw of it."""
    posted = webhook_posts(fake, channel_id)
    last: dict[int, tuple[float, int, float]] = {}
    for request in fake.requests:
        if request.route != EXECUTE_WEBHOOK or not request.body:
            continue
        embeds = request.body.get("embeds") or [{}]
        for story in story_numbers([str(embeds[0].get("title", ""))]):
            last[story] = (request.time, request.status, request.retry_after or 0.0)
    losses = []
    for story in range(1, stories + 1):
        if posted[story]:
            continue
        if story not in last:
            losses.append(WebhookLoss(story))
            continue
        at, status, retry_after = last[story]
        after = [k - at for k in kill_times if k >= at]
        losses.append(WebhookLoss(story, status, at, retry_after, min(after, default=None)))
    return losses


def slept_through_a_429(loss: WebhookLoss, commit_allowance: float) -> bool:
    """Whether the loss has the signature of a worker killed inside discord.py's 429 sleep.

    A 429 on a post ends the call and the dispatcher's failure record clears the started mark
    within a commit, so the kill that loses such a story comes within ``commit_allowance`` of
    the 429 (the failure was not recorded yet). A later attempt that was killed between its
    started mark and its request comes after ``retry_after`` (the retry is not due before).
    A kill in between means the worker was still asleep, marked started, with nothing sent.
    """
    if loss.last_status != 429 or loss.kill_after is None:
        return False
    return commit_allowance < loss.kill_after < loss.retry_after
