"""Pinning end to end: the configuration, the dispatcher, the workers' background job, the
store (SQLite and PostgreSQL) and the fake Bot API, on the injected clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from distributor import status_report
from distributor.config import StoreConfig
from distributor.configload import LoadedConfig, load_config
from distributor.ledger import Ledger
from distributor.models import Delivery, DeliveryStatus
from distributor.service import Service
from distributor.store import Store
from distributor.types import ArticleDraft
from tests.conftest import FakeClock
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_fixtures import CHANNEL_ID, TELEGRAM_TOKEN
from tests.telegram.test_dispatch import STORY


def configure(tmp_path: Path, store_url: str, base_url: str, *, extra: str = "") -> LoadedConfig:
    path = tmp_path / "channels.yaml"
    path.write_text(
        f"""
version: 1
timezone: UTC
store: {{url: "{store_url}"}}
channels:
  - name: tg-news
    platform: telegram
    token: ${{TELEGRAM_BOT_TOKEN}}
    chat: "@newsroom"
    api_base_url: "{base_url}"
    timeouts: {{read: 1.0}}
    pin_priority: 8
    pin_hours: 4
{extra}"""
    )
    return load_config(path, environ={"TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN})


async def queue(store_url: str, clock: FakeClock, priority: int) -> int:
    draft: ArticleDraft = replace(
        STORY,
        title=f"{STORY.title} ({priority})",
        url=f"{STORY.url}&priority={priority}",
        priority=priority,
        publish_at=clock.now - timedelta(minutes=1),
    )
    store = await Store.open(StoreConfig(url=store_url), clock=clock)
    try:
        return (await store.add_article(draft)).article_id
    finally:
        await store.close()


async def delivery(store_url: str, article_id: int) -> Delivery:
    store = await Store.open(StoreConfig(url=store_url))
    try:
        [found] = await store.deliveries_for([article_id])
        return found
    finally:
        await store.close()


async def run(loaded: LoadedConfig, clock: FakeClock, tmp_path: Path) -> None:
    """One worker's run: a new process each time (store, adapters and background work)."""
    await Service(loaded, clock=clock, workdir=tmp_path).run_once()


async def test_a_breaking_story_is_pinned_and_unpinned_by_a_later_run(
    telegram_api: FakeTelegramAPI, store_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    loaded = configure(tmp_path, store_url, telegram_api.base_url)
    breaking = await queue(store_url, clock, priority=9)
    usual = await queue(store_url, clock, priority=3)
    await run(loaded, clock, tmp_path)

    [pinned] = telegram_api.pins[CHANNEL_ID]
    assert len(telegram_api.messages[CHANNEL_ID]) == 2
    sent = await delivery(store_url, breaking)
    assert sent.status == DeliveryStatus.SENT
    assert sent.outcome == "pinned until 2026-11-29 13:00 UTC"
    assert (await delivery(store_url, usual)).outcome is None
    assert [ref["message_id"] for ref in sent.refs] == [str(pinned)]

    clock.advance(hours=3)
    await run(loaded, clock, tmp_path)
    assert list(telegram_api.pins[CHANNEL_ID]) == [pinned]
    clock.advance(hours=1)
    await run(loaded, clock, tmp_path)  # restarted: the schedule came from the store
    assert telegram_api.pins[CHANNEL_ID] == {}
    await run(loaded, clock, tmp_path)
    assert telegram_api.unpinned == [(CHANNEL_ID, pinned)]


async def test_in_silent_quiet_hours_the_pin_is_silent_too(
    telegram_api: FakeTelegramAPI, store_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    quiet = '    quiet_hours: {from: "08:00", to: "10:00", mode: silent}\n'
    loaded = configure(tmp_path, store_url, telegram_api.base_url, extra=quiet)
    await queue(store_url, clock, priority=9)  # 09:00 UTC: inside the window
    await run(loaded, clock, tmp_path)

    [post] = telegram_api.messages[CHANNEL_ID].values()
    assert post.disable_notification
    assert telegram_api.pins[CHANNEL_ID] == {post.message_id: True}


async def test_a_refused_pin_leaves_the_story_sent_and_status_says_so(
    telegram_api: FakeTelegramAPI, store_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    telegram_api.deny_pins(CHANNEL_ID)
    loaded = configure(tmp_path, store_url, telegram_api.base_url)
    article_id = await queue(store_url, clock, priority=9)
    await run(loaded, clock, tmp_path)
    await run(loaded, clock, tmp_path)  # nothing left to do: posted once

    assert len(telegram_api.messages[CHANNEL_ID]) == 1
    sent = await delivery(store_url, article_id)
    assert sent.status == DeliveryStatus.SENT
    assert sent.outcome is not None
    assert sent.outcome.startswith(
        "posted, not pinned: not enough rights to manage pinned messages in the chat"
    )
    store = await Store.open(StoreConfig(url=store_url))
    try:
        assert await store.paused_channels() == {}  # the channel posts on
    finally:
        await store.close()
    text, _ = status_report.cell(
        {"status": sent.status, "attempts": sent.attempts, "version": 1, "outcome": sent.outcome}
    )
    assert "posted, not pinned: not enough rights" in text


async def test_a_retraction_that_can_only_edit_unpins_the_withdrawal_notice(
    telegram_api: FakeTelegramAPI, store_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    loaded = configure(tmp_path, store_url, telegram_api.base_url)
    article_id = await queue(store_url, clock, priority=9)
    await run(loaded, clock, tmp_path)
    [post] = telegram_api.messages[CHANNEL_ID].values()
    telegram_api.age_message(CHANNEL_ID, post.message_id, 49 * 3600)  # too old to delete

    store = await Store.open(StoreConfig(url=store_url), clock=clock)
    try:
        await Ledger(store).retract(article_id)
    finally:
        await store.close()
    await run(loaded, clock, tmp_path)

    assert post.text.endswith("This story has been withdrawn.")
    assert telegram_api.pins[CHANNEL_ID] == {}
    assert (await delivery(store_url, article_id)).outcome == "edited into the withdrawal notice"
    clock.advance(hours=5)
    await run(loaded, clock, tmp_path)  # already unpinned: the job has nothing to do
    assert telegram_api.unpinned == [(CHANNEL_ID, post.message_id)]
