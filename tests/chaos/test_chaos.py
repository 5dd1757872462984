"""Several workers on one PostgreSQL database, killed at random, against faulty platforms.

What must hold afterwards, checked on the fakes' stored messages (never on logs):
- nothing is lost: every story reaches every channel (or, on a channel whose in-doubt policy
  is "skip", is marked skipped where a crash left it unknown);
- no duplicates on Discord (bot mode: the delivery's nonce) or email (the per-reader ledger,
  committed before the final "." of each message) — and none on Telegram with "skip";
  Telegram with "resend" may post twice only where a crash or a lost answer left a send in
  doubt, at most once per such event.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from distributor.models import DeliveryStatus
from tests.chaos.world import (
    Fakes,
    Workers,
    discord_posts,
    emails,
    queue_stories,
    run_until_done,
    running_fakes,
    statuses,
    telegram_posts,
    write_config,
)
from tests.conftest import _empty
from tests.fakes.discord_fixtures import DISCORD_CHANNEL_ID
from tests.fakes.telegram_fixtures import CHANNEL_ID, GROUP_ID

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
CHANNELS = 4


@pytest.fixture
def pg_url(postgres_database: str) -> str:
    asyncio.run(_empty(postgres_database))
    return postgres_database


def in_doubt_requests(fakes: Fakes, chat_id: int) -> int:
    """Sends the fake acted on without the client hearing back (timeouts, drops)."""
    return sum(
        1
        for r in fakes.telegram.requests
        if r.chat_id == chat_id and r.method == "sendMessage" and r.processed
        and r.fault in ("timeout", "drop")
    )  # fmt: skip


async def check_outcome(
    fakes: Fakes, pg_url: str, stories: int, allowed_dups: int, allowed_email_losses: int = 0
) -> None:
    wanted = set(range(1, stories + 1))
    discord = discord_posts(fakes.discord, DISCORD_CHANNEL_ID)
    assert set(discord) == wanted, "a story never reached Discord"
    assert max(discord.values()) == 1, "a story was posted twice on Discord"

    resend = telegram_posts(fakes.telegram, CHANNEL_ID)
    assert set(resend) == wanted, "a story never reached the resend Telegram channel"
    duplicates = sum(n - 1 for n in resend.values())
    assert duplicates <= allowed_dups

    # Email is never sent twice. A kill while the ledger's commit is in flight (the server
    # commits, the worker dies before writing the final ".") loses that commit group's readers
    # for this story: at most one group (one message per SMTP connection) per kill.
    lost = 0
    for reader, stories_got in emails(fakes.smtp).items():
        assert max(stories_got.values()) == 1, f"{reader} got a story twice"
        lost += len(wanted - set(stories_got))
    assert lost <= allowed_email_losses, f"{lost} emails lost"

    skip = telegram_posts(fakes.telegram, GROUP_ID)
    assert max(skip.values(), default=1) == 1, "a story was posted twice despite skip"
    skip_status = await statuses(pg_url, "tg-skip")
    for story in wanted - set(skip):
        assert skip_status[story] == DeliveryStatus.SKIPPED, f"story {story} lost on tg-skip"


async def test_workers_never_claim_the_same_delivery(pg_url: str, tmp_path: Path) -> None:
    stories = 120
    await queue_stories(pg_url, stories)
    with running_fakes() as fakes:
        workers = Workers(write_config(tmp_path, pg_url, fakes), 3, tmp_path / "logs")
        workers.start()
        try:
            counts = await run_until_done(pg_url, workers, stories * CHANNELS)
        finally:
            assert workers.stop() == [0, 0, 0], workers.crashed()
        assert counts[DeliveryStatus.SENT] == stories * CHANNELS
        for posts in (
            telegram_posts(fakes.telegram, CHANNEL_ID),
            telegram_posts(fakes.telegram, GROUP_ID),
            discord_posts(fakes.discord, DISCORD_CHANNEL_ID),
            *emails(fakes.smtp).values(),
        ):
            assert sorted(posts) == list(range(1, stories + 1))
            assert set(posts.values()) == {1}


async def test_killed_workers_lose_nothing_and_duplicate_only_what_is_allowed(
    pg_url: str, tmp_path: Path
) -> None:
    stories = 300
    await queue_stories(pg_url, stories)
    with running_fakes() as fakes:
        # A platform 30 ms away keeps the workers busy long enough to be killed mid-send.
        fakes.telegram.latency = fakes.discord.latency = 0.05
        workers = Workers(write_config(tmp_path, pg_url, fakes), 3, tmp_path / "logs")
        workers.start()
        try:
            counts = await run_until_done(
                pg_url, workers, stories * CHANNELS, kill_every=(0.5, 1.5), max_kills=8
            )
        finally:
            workers.stop()
        assert workers.kills == 8
        assert not workers.crashed()
        resend = telegram_posts(fakes.telegram, CHANNEL_ID)
        print(
            f"kills {workers.kills}, Telegram duplicates (resend) "
            f"{sum(n - 1 for n in resend.values())}, skipped {counts[DeliveryStatus.SKIPPED]}, "
            f"Discord nonce dedups {fakes.discord.nonce_hits}, emails lost "
            f"{sum(stories - len(got) for got in emails(fakes.smtp).values())}"
        )
        assert counts[DeliveryStatus.DEAD] == counts[DeliveryStatus.FAILED] == 0
        email_connections = 2  # the chaos config's `connections`
        await check_outcome(
            fakes,
            pg_url,
            stories,
            allowed_dups=workers.kills,
            allowed_email_losses=workers.kills * email_connections,
        )


async def test_platform_faults_delay_posts_but_never_drop_them(pg_url: str, tmp_path: Path) -> None:
    stories = 300
    await queue_stories(pg_url, stories)
    with running_fakes() as fakes:
        # One call in five fails: 5xx, 429, an answer that never comes, a dropped connection.
        fakes.telegram.fault_timeout_seconds = 1.5  # beyond the adapter's 1 s read timeout
        fakes.telegram.set_fault_rate(0.2, seed=11)
        fakes.discord.set_fault_rate(0.2, seed=12, timeout_seconds=1.5)
        fakes.smtp.rcpt_fault_rate = 0.2  # readers deferred with 451, mailed on a retry
        workers = Workers(write_config(tmp_path, pg_url, fakes), 2, tmp_path / "logs")
        workers.start()
        try:
            counts = await run_until_done(pg_url, workers, stories * CHANNELS, deadline=240)
        finally:
            assert workers.stop() == [0, 0], workers.crashed()
        assert counts[DeliveryStatus.DEAD] == counts[DeliveryStatus.FAILED] == 0
        faulted = sum(1 for r in fakes.telegram.requests if r.fault)
        assert faulted > stories * 2 * 0.1  # the faults really happened
        resend = telegram_posts(fakes.telegram, CHANNEL_ID)
        print(
            f"Telegram faults {faulted}, in doubt on tg-resend "
            f"{in_doubt_requests(fakes, CHANNEL_ID)}, duplicates there "
            f"{sum(n - 1 for n in resend.values())}, skipped {counts[DeliveryStatus.SKIPPED]}, "
            f"Discord faults {sum(1 for r in fakes.discord.requests if r.fault)}, "
            f"nonce dedups {fakes.discord.nonce_hits}, SMTP 451s {fakes.smtp.faults}"
        )
        assert fakes.smtp.faults > 0
        await check_outcome(
            fakes, pg_url, stories, allowed_dups=in_doubt_requests(fakes, CHANNEL_ID)
        )
