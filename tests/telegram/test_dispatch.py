"""End to end: a configured Telegram channel, the dispatcher, the fake Bot API and a store."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from distributor.config import StoreConfig
from distributor.configload import LoadedConfig, load_config
from distributor.ledger import Ledger
from distributor.models import DeliveryStatus
from distributor.service import Service
from distributor.store import Store
from distributor.types import ArticleDraft
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_fixtures import CHANNEL_ID, GROUP_ID, TELEGRAM_TOKEN

STORY = ArticleDraft(
    title="Night trains return to the valley",
    body=(
        "The regional council voted on Tuesday to bring back the night train.\n\n"
        "The first departure is planned for the spring. Tickets go on sale next month.\n\n"
        "Tu as aimé cet article ? Alors rejoins nous sur nos différents canaux de diffusion."
    ),
    publish_at=datetime.now(UTC) - timedelta(minutes=1),
    url="https://news.example.org/2026/night_trains?ref=tg&x=1",
    language="en",
)


def write_config(tmp_path: Path, store_url: str, base_url: str, *, extra: str = "") -> LoadedConfig:
    path = tmp_path / "channels.yaml"
    path.write_text(
        f"""
version: 1
store: {{url: "{store_url}"}}
promo:
  text: "Follow us elsewhere:"
  links:
    - {{label: Telegram, url: "https://t.me/newsroom", channel: tg-news}}
    - {{label: Site, url: "https://news.example.org/?a=1&b=2"}}
channels:
  - name: tg-news
    platform: telegram
    token: ${{TELEGRAM_BOT_TOKEN}}
    chat: "@newsroom"
    api_base_url: "{base_url}"
    timeouts: {{read: 0.5}}
  - name: tg-group
    platform: telegram
    token: ${{TELEGRAM_BOT_TOKEN}}
    chat: "{GROUP_ID}"
    api_base_url: "{base_url}"
    timeouts: {{read: 0.5}}
{extra}"""
    )
    return load_config(path, environ={"TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN})


async def queue(store_url: str, draft: ArticleDraft = STORY) -> int:
    store = await Store.open(StoreConfig(url=store_url))
    try:
        return (await store.add_article(draft)).article_id
    finally:
        await store.close()


async def deliveries(store_url: str, article_id: int) -> dict[str, str]:
    store = await Store.open(StoreConfig(url=store_url))
    try:
        return {d.channel: d.status for d in await store.deliveries_for([article_id])}
    finally:
        await store.close()


async def test_story_reaches_telegram_and_a_broken_channel_pauses_alone(
    telegram_api: FakeTelegramAPI, store_url: str, tmp_path: Path
) -> None:
    telegram_api.kick(GROUP_ID)
    loaded = write_config(tmp_path, store_url, telegram_api.base_url)
    article_id = await queue(store_url)

    await Service(loaded, workdir=tmp_path).run_once()

    [post] = telegram_api.messages[CHANNEL_ID].values()
    assert post.text.startswith("Night trains return to the valley\n\nThe regional council")
    assert "Tu as aimé" not in post.text  # the promo boilerplate became real links
    assert "https://news.example.org/?a=1&b=2" in [e.url for e in post.entities]
    assert "https://t.me/newsroom" not in [e.url for e in post.entities]  # not to itself
    assert telegram_api.messages[GROUP_ID] == {}
    assert await deliveries(store_url, article_id) == {
        "tg-news": DeliveryStatus.SENT,
        "tg-group": DeliveryStatus.PENDING,  # waits for the admin, not retried into the ground
    }
    store = await Store.open(StoreConfig(url=store_url))
    try:
        paused = await store.paused_channels()
    finally:
        await store.close()
    assert list(paused) == ["tg-group"]
    assert "bot was kicked from the group chat" in paused["tg-group"]
    assert TELEGRAM_TOKEN.split(":")[1] not in paused["tg-group"]


async def test_correction_edits_and_retraction_deletes_the_post(
    telegram_api: FakeTelegramAPI, store_url: str, tmp_path: Path
) -> None:
    loaded = write_config(tmp_path, store_url, telegram_api.base_url)
    article_id = await queue(store_url)
    await Service(loaded, workdir=tmp_path).run_once()
    assert len(telegram_api.all_messages()) == 2

    store = await Store.open(StoreConfig(url=store_url))
    try:
        await Ledger(store).correct(article_id, replace(STORY, title="Night trains return in May"))
    finally:
        await store.close()
    await Service(loaded, workdir=tmp_path).run_once()
    assert {m.text.split("\n")[0] for m in telegram_api.all_messages()} == {
        "Night trains return in May"
    }

    store = await Store.open(StoreConfig(url=store_url))
    try:
        await Ledger(store).retract(article_id)
    finally:
        await store.close()
    await Service(loaded, workdir=tmp_path).run_once()
    assert telegram_api.all_messages() == []
    assert len(telegram_api.deleted) == 2


async def test_in_doubt_send_is_not_repeated_under_the_skip_policy(
    telegram_api: FakeTelegramAPI, store_url: str, tmp_path: Path
) -> None:
    # The extra key lands in the last channel of the file: tg-group.
    loaded = write_config(tmp_path, store_url, telegram_api.base_url, extra="    in_doubt: skip\n")
    telegram_api.timeout_next(chat_id=GROUP_ID, seconds=3, then_process=True)
    article_id = await queue(store_url)
    await Service(loaded, workdir=tmp_path).run_once()

    assert len(telegram_api.messages[GROUP_ID]) == 1  # Telegram did post it, once
    assert (await deliveries(store_url, article_id))["tg-group"] == DeliveryStatus.SKIPPED


async def test_a_noted_correction_and_a_retraction_after_48_hours_say_what_happened(
    telegram_api: FakeTelegramAPI, store_url: str, tmp_path: Path
) -> None:
    loaded = write_config(tmp_path, store_url, telegram_api.base_url)
    article_id = await queue(store_url)
    await Service(loaded, workdir=tmp_path).run_once()

    store = await Store.open(StoreConfig(url=store_url))
    try:
        corrected = replace(STORY, title="Night trains return in May")
        await Ledger(store).correct(article_id, corrected, notice="note")
    finally:
        await store.close()
    await Service(loaded, workdir=tmp_path).run_once()
    texts = [m.text for m in telegram_api.all_messages()]
    assert len(texts) == 2
    assert all(
        "Corrected: this story was changed after it was first published." in t for t in texts
    )

    # Telegram lets a bot delete a post only within 48 hours: one post is older than that.
    old = next(m for m in telegram_api.all_messages() if m.chat_id == GROUP_ID)
    telegram_api.age_message(old.chat_id, old.message_id, 49 * 3600)
    store = await Store.open(StoreConfig(url=store_url))
    try:
        await Ledger(store).retract(article_id)
    finally:
        await store.close()
    await Service(loaded, workdir=tmp_path).run_once()

    [left] = telegram_api.all_messages()
    assert left.message_id == old.message_id
    assert left.text == "Night trains return in May\n\nThis story has been withdrawn."
    store = await Store.open(StoreConfig(url=store_url))
    try:
        rows = {d.channel: d for d in await store.deliveries_for([article_id])}
    finally:
        await store.close()
    assert rows["tg-news"].outcome == "deleted"
    assert rows["tg-group"].outcome == "edited into the withdrawal notice"
    assert {d.status for d in rows.values()} == {DeliveryStatus.DELETED}
