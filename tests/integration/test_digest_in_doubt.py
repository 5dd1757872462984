"""A digest is never posted twice after a crash, whichever worker picks it up.

A worker "dies" (an exception no code catches, so nothing after it is recorded) either
before its request leaves (waiting for pacing) or right after the platform accepted the
post. Once the lease expires a second worker, with another owner, takes the row over: the
channel's ``in_doubt`` policy decides whether a started digest is posted again. The clock is
the injected one; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from distributor.adapter import ChannelAdapter
from distributor.configload import LoadedConfig
from distributor.digests import Digests
from distributor.models import DigestRun, DigestStatus
from distributor.send_context import SendContext
from distributor.service import Service
from distributor.types import RenderedMessage, SendResult
from tests.conftest import FakeClock
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_fixtures import CHANNEL_ID, TELEGRAM_TOKEN
from tests.helpers import write_config
from tests.integration.test_digests import UNPACED, queue, run_digests


def config(
    tmp_path: Path, store_url: str, telegram: FakeTelegramAPI, in_doubt: str = "resend"
) -> LoadedConfig:
    data: dict[str, Any] = {
        "version": 1,
        "timezone": "UTC",
        "store": {"url": store_url},
        "channels": [
            {"name": "tg", "platform": "telegram", "token": TELEGRAM_TOKEN,
             "chat": str(CHANNEL_ID), "api_base_url": telegram.base_url, "rates": UNPACED,
             "in_doubt": in_doubt,
             "digest": {"schedule": "0 7 * * *", "title": "Morning briefing", "mode": "digest"}},
        ],
    }  # fmt: skip
    return write_config(tmp_path, data)


class WorkerDied(BaseException):
    """The worker process ends here: no code of it runs after this."""


class DyingAdapter:
    """The channel's real adapter, in a worker that dies just before or just after a send."""

    def __init__(self, real: ChannelAdapter, when: str) -> None:
        self.real = real
        self.when = when

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    async def send(self, message: RenderedMessage, context: SendContext) -> SendResult:
        if self.when == "before":  # killed while its request waited for a pacing slot
            raise WorkerDied
        await self.real.send(message, context)
        raise WorkerDied  # the platform has the post; its answer is never recorded


async def digest_row(service: Service) -> DigestRun:
    digests = service._started().digests
    assert digests is not None
    async with digests.store.session() as session:
        rows = (await session.scalars(select(DigestRun).order_by(DigestRun.window_start))).all()
    return rows[-1]


def worker(service: Service, owner: str, adapter: Any = None) -> Digests:
    """Another worker over the service's store and channels, named ``owner``."""
    base = service._started().digests
    assert base is not None
    adapters = dict(base.adapters) if adapter is None else {"tg": adapter}
    return Digests(base.app, base.store, adapters, base.renderer, owner)


@contextlib.asynccontextmanager
async def due_digest(
    loaded: LoadedConfig, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[Service]:
    """A running service at 07:00 on 30 November, one story in the digest that is now due."""
    await run_digests(loaded, clock)
    await queue(loaded, clock, 1)
    clock.now = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    service = Service(loaded, clock=clock, workdir=tmp_path)
    await service.start()
    try:
        yield service
    finally:
        await service.close()


async def crash_then_take_over(
    loaded: LoadedConfig, clock: FakeClock, tmp_path: Path, when: str
) -> tuple[list[str], DigestRun]:
    """One worker dies sending the 30 November digest; another takes it over after the lease."""
    async with due_digest(loaded, clock, tmp_path) as service:
        real = service._started().adapters["tg"]
        dying = worker(service, "dead-worker", DyingAdapter(real, when))
        with pytest.raises(WorkerDied):
            await dying.run_due()
        survivor = worker(service, "survivor")
        assert await survivor.run_due() == []  # the dead worker's lease still holds
        clock.advance(seconds=loaded.app.dispatch.lease_seconds + 1)
        statuses = [o.status for o in await survivor.run_due()]
        assert await survivor.run_due() == []
        return statuses, await digest_row(service)


async def test_a_crash_after_the_post_left_is_not_posted_again_under_skip(
    tmp_path: Path, store_url: str, clock: FakeClock, telegram_api: FakeTelegramAPI
) -> None:
    loaded = config(tmp_path, store_url, telegram_api, in_doubt="skip")
    statuses, row = await crash_then_take_over(loaded, clock, tmp_path, "after")
    assert statuses == ["in_doubt"]
    assert len(telegram_api.all_messages()) == 1
    assert row.status == DigestStatus.IN_DOUBT
    assert row.last_error == "in doubt after a crash; channel policy is to skip"
    assert (row.lease_owner, row.started_at) == (None, None)


async def test_a_crash_after_the_post_left_is_resent_once_under_resend(
    tmp_path: Path, store_url: str, clock: FakeClock, telegram_api: FakeTelegramAPI
) -> None:
    loaded = config(tmp_path, store_url, telegram_api, in_doubt="resend")
    statuses, row = await crash_then_take_over(loaded, clock, tmp_path, "after")
    assert statuses == ["sent"]
    assert len(telegram_api.all_messages()) == 2  # at least once: the one repeat it allows
    assert row.status == DigestStatus.SENT
    assert row.last_error == "in doubt after a crash; resent (policy resend)"
    assert row.attempts == 2


@pytest.mark.parametrize("policy", ["skip", "resend"])
async def test_a_crash_before_the_request_left_is_sent_once(
    tmp_path: Path, store_url: str, clock: FakeClock, telegram_api: FakeTelegramAPI, policy: str
) -> None:
    loaded = config(tmp_path, store_url, telegram_api, in_doubt=policy)
    statuses, row = await crash_then_take_over(loaded, clock, tmp_path, "before")
    assert statuses == ["sent"]
    assert len(telegram_api.all_messages()) == 1
    assert (row.status, row.last_error) == (DigestStatus.SENT, None)


async def test_a_worker_whose_lease_was_taken_over_does_not_post(
    tmp_path: Path, store_url: str, clock: FakeClock, telegram_api: FakeTelegramAPI
) -> None:
    loaded = config(tmp_path, store_url, telegram_api)
    async with due_digest(loaded, clock, tmp_path) as service:
        slow, fast = worker(service, "slow-worker"), worker(service, "fast-worker")
        channel = loaded.app.channel("tg")
        await slow.open_due(channel)
        [held] = await slow._claim("tg")
        clock.advance(seconds=loaded.app.dispatch.lease_seconds + 1)  # "slow" hangs meanwhile
        assert [o.status for o in await fast.run_due()] == ["sent"]
        late = await slow._send(channel, held)  # "slow" wakes up and tries to post
        row = await digest_row(service)
    assert (late.status, late.error) == ("sending", "'tg': another worker took this digest over")
    assert len(telegram_api.all_messages()) == 1
    assert (row.status, row.items, row.last_error) == (DigestStatus.SENT, 1, None)


class HeldAdapter:
    """The real adapter, held mid-send (a big email list takes minutes) until released."""

    def __init__(self, real: ChannelAdapter) -> None:
        self.real = real
        self.sending = asyncio.Event()
        self.release = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    async def send(self, message: RenderedMessage, context: SendContext) -> SendResult:
        self.sending.set()
        await self.release.wait()
        return await self.real.send(message, context)


async def test_a_long_send_keeps_its_lease_and_is_not_taken_over(
    tmp_path: Path, store_url: str, clock: FakeClock, telegram_api: FakeTelegramAPI
) -> None:
    loaded = config(tmp_path, store_url, telegram_api)
    async with due_digest(loaded, clock, tmp_path) as service:
        held = HeldAdapter(service._started().adapters["tg"])
        busy, other = worker(service, "busy-worker", held), worker(service, "other-worker")
        busy.renew_every = 0.01
        sending = asyncio.create_task(busy.run_due())
        await held.sending.wait()
        clock.advance(seconds=loaded.app.dispatch.lease_seconds + 1)
        for _ in range(500):  # the renewal runs on the event loop: let it
            await asyncio.sleep(0.01)
            row = await digest_row(service)
            if row.lease_expires_at is not None and row.lease_expires_at > clock.now:
                break
        assert await other.run_due() == []  # the lease was renewed: nothing to take over
        held.release.set()
        assert [o.status for o in await sending] == ["sent"]
        row = await digest_row(service)
    assert len(telegram_api.all_messages()) == 1
    assert (row.status, row.lease_owner) == (DigestStatus.SENT, None)
