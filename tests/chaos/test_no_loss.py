"""Killed workers lose nothing but what was on the wire at the instant of the kill.

Two losses that earlier chaos runs found, each against a fake scripted to provoke it:
- email: the SMTP server refuses one message in five *after* its final "." (451), while the
  ledger already says "sent"; a refusal held in memory and dropped by a SIGKILL left readers
  recorded as mailed who never got the story;
- Discord webhook with ``in_doubt: skip``: three workers share one webhook whose fake enforces
  Discord's per-webhook limit (5 posts per 2 s), so posts draw 429s; a worker killed while
  discord.py slept in its own 429 retry left a delivery marked started with nothing posted,
  and the skip policy then never sent it.

Expected: no duplicates, and no loss except the documented window, which the fakes' records
identify (email: the message each killed connection had in flight; Discord: a kill between a
request's started mark and its answer being recorded).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from distributor.models import DeliveryStatus
from tests.chaos.evidence import (
    email_deliveries,
    slept_through_a_429,
    unexplained_email_losses,
    webhook_losses,
    webhook_posts,
)
from tests.chaos.world import (
    Workers,
    queue_stories,
    run_until_done,
    running_fakes,
    statuses,
    write_config,
)
from tests.conftest import _empty
from tests.fakes.discord_fixtures import DISCORD_CHANNEL_ID, DISCORD_WEBHOOK_URL

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

EMAIL_CONNECTIONS = 2
# How long a worker may take, on a busy machine, to record a 429 as a failure (one commit).
COMMIT_ALLOWANCE = 0.5


@pytest.fixture
def pg_url(postgres_database: str) -> str:
    asyncio.run(_empty(postgres_database))
    return postgres_database


async def test_an_smtp_refusal_after_the_final_dot_survives_a_kill(
    pg_url: str, tmp_path: Path
) -> None:
    stories, readers = 40, [f"reader{i:03d}@example.org" for i in range(120)]
    await queue_stories(pg_url, stories, readers)
    with running_fakes() as fakes:
        fakes.smtp.data_fault_rate = 0.2
        newsletter = {
            "name": "newsletter",
            "platform": "email",
            "list": "chaos",
            "from_address": "News <news@news.example.org>",
            "smtp": {"host": fakes.smtp.host, "port": fakes.smtp.port, "security": "none"},
            "connections": EMAIL_CONNECTIONS,
            # About 2 s per pass over the list: long enough to be killed in the middle.
            "rate_per_second": 60,
        }
        config = write_config(tmp_path, pg_url, fakes, channels=[newsletter], batch_size=2)
        workers = Workers(config, 3, tmp_path / "logs")
        workers.start()
        began = time.monotonic()
        try:
            counts = await run_until_done(
                pg_url, workers, stories, kill_every=(2.0, 4.0), max_kills=8, busy_after=0
            )
        finally:
            workers.stop()
        assert not workers.crashed()
        assert counts[DeliveryStatus.SENT] == stories
        accepted = email_deliveries(fakes.smtp)
        wanted = {(reader, story) for reader in readers for story in range(1, stories + 1)}
        lost = wanted - set(accepted)
        unexplained = unexplained_email_losses(fakes.smtp, lost)
        print(
            f"{time.monotonic() - began:.0f} s, kills {workers.kills}, "
            f"refusals after the '.' {fakes.smtp.data_faults}, "
            f"lost {len(lost)} (in flight at a kill: {len(lost) - len(unexplained)})"
        )
        assert workers.kills == 8
        assert fakes.smtp.data_faults > len(wanted) * 0.1  # the refusals really happened
        assert set(accepted) <= wanted
        assert max(accepted.values()) == 1, "a reader got a story twice"
        assert not unexplained, f"lost, and no killed connection had them in flight: {unexplained}"
        assert len(lost) <= workers.kills * EMAIL_CONNECTIONS  # the documented bound


async def test_a_webhook_429_leaves_nothing_in_doubt_when_workers_die(
    pg_url: str, tmp_path: Path
) -> None:
    stories = 120
    await queue_stories(pg_url, stories, [])
    with running_fakes() as fakes:
        hook = {
            "name": "discord-hook",
            "platform": "discord",
            "mode": "webhook",
            "webhook_url": DISCORD_WEBHOOK_URL,
            "api_base_url": fakes.discord.api_base,
            "in_doubt": "skip",
            "request_timeout_seconds": 5.0,
        }
        config = write_config(tmp_path, pg_url, fakes, channels=[hook])
        workers = Workers(config, 3, tmp_path / "logs")
        workers.start()
        began = time.monotonic()
        try:
            counts = await run_until_done(
                pg_url, workers, stories, kill_every=(3.0, 6.0), max_kills=8
            )
        finally:
            workers.stop()
        assert not workers.crashed()
        posted = webhook_posts(fakes.discord, DISCORD_CHANNEL_ID)
        losses = webhook_losses(fakes.discord, DISCORD_CHANNEL_ID, stories, workers.kill_times)
        asleep = [loss for loss in losses if slept_through_a_429(loss, COMMIT_ALLOWANCE)]
        print(
            f"{time.monotonic() - began:.0f} s, kills {workers.kills}, "
            f"429s {fakes.discord.count_status(429)}, "
            f"skipped {counts[DeliveryStatus.SKIPPED]}, never posted {len(losses)}, "
            f"killed asleep in a 429 retry {len(asleep)}"
        )
        assert workers.kills == 8
        assert fakes.discord.count_status(429) > stories / 10  # the limit really bit
        assert max(posted.values()) == 1, "a story was posted twice despite skip"
        status = await statuses(pg_url, "discord-hook")
        assert all(status[loss.story] == DeliveryStatus.SKIPPED for loss in losses)
        assert not asleep, f"killed while discord.py slept on a 429, marked started: {asleep}"
        # What remains is a kill between a request's started mark and its answer being
        # recorded: milliseconds, at most one post per kill.
        assert len(losses) <= workers.kills
