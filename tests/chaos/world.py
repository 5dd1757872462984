"""A newsroom in a box for crash and fault tests: fakes, a PostgreSQL store, worker processes.

The fakes run in threads of the test process; the workers are real ``distributor run``
processes that the tests kill with SIGKILL and start again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select

from distributor.config import StoreConfig
from distributor.models import Delivery, DeliveryStatus
from distributor.store import Store
from distributor.types import ArticleDraft
from distributor_channels.email.models import SubscriberStatus
from distributor_channels.email.subscribers import Subscribers, Wanted
from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.discord_fixtures import (
    DISCORD_BOT_TOKEN,
    DISCORD_CHANNEL_ID,
    populate_default_world,
)
from tests.fakes.discord_traffic import RateLimits
from tests.fakes.smtp import FakeSMTP
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_fixtures import (
    CHANNEL_ID,
    GROUP_ID,
    TELEGRAM_TOKEN,
    populate_default_chats,
)

ROOT = Path(__file__).resolve().parents[2]
TERMINAL = (DeliveryStatus.SENT, DeliveryStatus.SKIPPED, DeliveryStatus.DEAD, DeliveryStatus.FAILED)
TITLE = re.compile(r"Story (\d+)\b")


READERS = ("ann@example.org", "bob@example.org", "chloe@example.org")


@dataclass
class Fakes:
    telegram: FakeTelegramAPI
    discord: FakeDiscordAPI
    smtp: FakeSMTP


@contextlib.contextmanager
def running_fakes() -> Iterator[Fakes]:
    telegram = populate_default_chats(FakeTelegramAPI(tokens=(TELEGRAM_TOKEN,), flood=None))
    # Discord's limits stay enforced, but loose enough for a few hundred posts a second.
    discord = FakeDiscordAPI(rate_limits=RateLimits(per_route_limit=500, per_route_window=1.0))
    populate_default_world(discord)
    with telegram.running_in_thread(), discord.running_in_thread(), FakeSMTP() as smtp:
        yield Fakes(telegram, discord, smtp)


def write_config(
    tmp_path: Path,
    store_url: str,
    fakes: Fakes,
    *,
    channels: list[dict[str, Any]] | None = None,
    **dispatch: Any,
) -> Path:
    """The workers' configuration: every platform's channels, or only ``channels``."""
    fast = {"per_bot_per_second": 1000, "per_group_per_minute": 60000, "per_chat_per_second": 1000}
    telegram = {
        "platform": "telegram",
        "token": TELEGRAM_TOKEN,
        "api_base_url": fakes.telegram.base_url,
        "rates": fast,
        "timeouts": {"read": 1.0, "write": 1.0, "connect": 1.0},
    }
    data = {
        "version": 1,
        "store": {"url": store_url},
        "dispatch": {
            "tick_seconds": 0.5,
            "lease_seconds": 5,
            "batch_size": 20,
            "max_attempts": 30,
            "backoff_base_seconds": 0.05,
            "backoff_max_seconds": 1.0,
            **dispatch,
        },
        "channels": channels
        or [
            {"name": "tg-resend", "chat": str(CHANNEL_ID), "in_doubt": "resend", **telegram},
            {"name": "tg-skip", "chat": str(GROUP_ID), "in_doubt": "skip", **telegram},
            {
                "name": "discord",
                "platform": "discord",
                "mode": "bot",
                "token": DISCORD_BOT_TOKEN,
                "channel_id": DISCORD_CHANNEL_ID,
                "api_base_url": fakes.discord.api_base,
                "request_timeout_seconds": 1.0,
            },
            {
                "name": "newsletter",
                "platform": "email",
                "list": "chaos",
                "from_address": "News <news@news.example.org>",
                "smtp": {"host": fakes.smtp.host, "port": fakes.smtp.port, "security": "none"},
                "connections": 2,
                "rate_per_second": 100000,
            },
        ],
        "web": {
            "base_url": "https://news.example.org",
            "secret": "chaos-secret-7c1e9a0b2d4f6a8c1e3b5d7f",
        },
    }
    path = tmp_path / "chaos.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


async def queue_stories(
    store_url: str, count: int, readers: tuple[str, ...] | list[str] = READERS
) -> None:
    from datetime import UTC, datetime

    store = await Store.open(StoreConfig(url=store_url))
    try:
        wanted = [Wanted(reader, [], SubscriberStatus.CONFIRMED) for reader in readers]
        await Subscribers(store).upsert("chaos", wanted, source="test", reopen=True)
        now = datetime.now(UTC)
        for n in range(1, count + 1):
            await store.add_article(
                ArticleDraft(
                    title=f"Story {n}",
                    body=f"Story number {n} happened today. It matters. More later.",
                    publish_at=now,
                    url=f"https://news.example.org/{n}",
                )
            )
    finally:
        await store.close()


async def delivery_counts(store_url: str) -> Counter[str]:
    store = await Store.open(StoreConfig(url=store_url))
    try:
        async with store.session() as session:
            rows = await session.execute(
                select(Delivery.status, func.count()).group_by(Delivery.status)
            )
            return Counter({status: int(n) for status, n in rows})
    finally:
        await store.close()


async def statuses(store_url: str, channel: str) -> dict[int, str]:
    store = await Store.open(StoreConfig(url=store_url))
    try:
        async with store.session() as session:
            rows = await session.execute(
                select(Delivery.article_id, Delivery.status).where(Delivery.channel == channel)
            )
            return {article: status for article, status in rows}
    finally:
        await store.close()


@dataclass
class Workers:
    """``distributor run`` processes that can be killed and restarted."""

    config: Path
    count: int
    logs: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    born: list[float] = field(default_factory=list)
    kill_times: list[float] = field(default_factory=list)  # wall clock, as the fakes record
    kills: int = 0
    started: int = 0

    def _spawn(self) -> subprocess.Popen[bytes]:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "DISTRIBUTOR_CONFIG": str(self.config)}
        self.started += 1
        log = (self.logs / f"worker-{self.started}.log").open("wb")
        return subprocess.Popen(
            [sys.executable, "-m", "distributor", "run"], env=env, stdout=log, stderr=log
        )

    def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        self.processes = [self._spawn() for _ in range(self.count)]
        self.born = [time.monotonic()] * self.count

    def kill_one(self, rng: random.Random, *, min_age: float = 2.0) -> bool:
        """SIGKILL a random worker that has been up long enough to be working; restart it."""
        now = time.monotonic()
        grown = [i for i, born in enumerate(self.born) if now - born >= min_age]
        if not grown:
            return False
        index = rng.choice(grown)
        victim = self.processes[index]
        victim.send_signal(signal.SIGKILL)
        self.kill_times.append(time.time())
        victim.wait()
        self.kills += 1
        self.processes[index] = self._spawn()
        self.born[index] = time.monotonic()
        return True

    def stop(self) -> list[int]:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = []
        for process in self.processes:
            try:
                codes.append(process.wait(timeout=30))
            except subprocess.TimeoutExpired:
                process.kill()
                codes.append(process.wait())
        return codes

    def crashed(self) -> list[str]:
        """Logs of workers that died on their own (not killed by us)."""
        out = []
        for log in sorted(self.logs.glob("worker-*.log")):
            text = _SCHEDULER_JOB_CANCELLED.sub("", log.read_text(errors="replace"))
            if "Traceback" in text:
                out.append(f"{log.name}:\n{text[-3000:]}")
        return out


# At SIGTERM the event loop can close while APScheduler runs one of the worker's jobs (the
# wake-up tick, the platforms' background queues, digests, feeds), and APScheduler logs the
# job's cancellation as an error with a traceback. The worker still stops cleanly (exit 0),
# so that traceback is not a crash.
_SCHEDULER_JOB_CANCELLED = re.compile(
    r"^.* ERROR apscheduler\.executors\.default: Error running job \S+\n"
    r"Traceback \(most recent call last\):\n(?:  .*\n)*asyncio\.exceptions\.CancelledError\n",
    re.MULTILINE,
)


async def run_until_done(
    store_url: str,
    workers: Workers,
    expected: int,
    *,
    kill_every: tuple[float, float] | None = None,
    max_kills: int = 0,
    seed: int = 1,
    deadline: float = 180.0,
    busy_after: int = 20,
) -> Counter[str]:
    """Wait until every delivery is terminal, killing a random worker now and then (once
    ``busy_after`` deliveries are sent: workers that are sending, not booting)."""
    rng = random.Random(seed)
    started = time.monotonic()
    next_kill = time.monotonic() + (rng.uniform(*kill_every) if kill_every else float("inf"))
    while True:
        counts = await delivery_counts(store_url)
        done = sum(counts[s] for s in TERMINAL)
        if done >= expected:
            return counts
        if time.monotonic() - started > deadline:
            raise AssertionError(f"not finished after {deadline} s: {dict(counts)}")
        busy = counts[DeliveryStatus.SENT] >= busy_after
        due = kill_every and busy and workers.kills < max_kills and time.monotonic() >= next_kill
        if due and kill_every and workers.kill_one(rng):
            next_kill = time.monotonic() + rng.uniform(*kill_every)
        await asyncio.sleep(0.1)


def story_numbers(texts: list[str]) -> Counter[int]:
    found: Counter[int] = Counter()
    for text in texts:
        match = TITLE.search(text)
        if match:
            found[int(match.group(1))] += 1
    return found


def telegram_posts(fake: FakeTelegramAPI, chat_id: int) -> Counter[int]:
    return story_numbers([m.text for m in fake.messages.get(chat_id, {}).values()])


def emails(smtp: FakeSMTP) -> dict[str, Counter[int]]:
    """Per reader, how many times each story reached them."""
    found: dict[str, Counter[int]] = {reader: Counter() for reader in READERS}
    for received in smtp.messages:
        story = story_numbers([str(received.message["Subject"])])
        for reader in received.rcpt_to:
            found.setdefault(reader, Counter()).update(story)
    return found


def discord_posts(fake: FakeDiscordAPI, channel_id: int) -> Counter[int]:
    messages = fake.messages.get(channel_id, {}).values()
    return story_numbers([str(m.embeds[0].get("title", "")) for m in messages if m.embeds])
