"""Links to posts: each platform's ``post_url`` from a channel's config and a post's ref."""

from __future__ import annotations

from typing import Any

from distributor import registry
from distributor.types import MessageRef


def link(platform: str, keys: dict[str, Any], ref: MessageRef) -> str | None:
    spec = registry.get(platform)
    config = spec.config_model.model_validate(
        {"name": "c", "platform": platform, "dry_run": True, **keys}
    )
    return spec.post_url(config, ref)


def test_telegram_public_private_forum_and_no_link() -> None:
    sent = MessageRef("-1001234567890", "42", "text")
    assert link("telegram", {"chat": "@newsroom"}, sent) == "https://t.me/newsroom/42"
    assert link("telegram", {"chat": "-1001234567890"}, sent) == "https://t.me/c/1234567890/42"
    topic = MessageRef("-1001234567890", "42", "photo", thread="7")
    assert (
        link("telegram", {"chat": "-1001234567890", "topic": 7}, topic)
        == "https://t.me/c/1234567890/7/42"
    )
    assert link("telegram", {"chat": "@newsroom", "topic": 7}, topic) == (
        "https://t.me/newsroom/7/42"
    )
    # A reply's thread outside a forum is not part of the link.
    assert link("telegram", {"chat": "@newsroom"}, topic) == "https://t.me/newsroom/42"
    # A basic group and a private chat have no message links; nor has a dry run's file.
    assert link("telegram", {"chat": "-4567"}, MessageRef("-4567", "42", "text")) is None
    assert link("telegram", {"chat": "12345"}, MessageRef("12345", "42", "text")) is None
    outbox = MessageRef("c", "0001-story.json", "outbox")
    assert link("telegram", {"chat": "@newsroom"}, outbox) is None


def test_discord_needs_the_guild_and_finds_the_channel() -> None:
    bot = MessageRef("222222222222222222", "333333333333333333", "bot")
    keys = {"mode": "bot", "guild_id": 111111111111111111}
    assert link("discord", keys, bot) == (
        "https://discord.com/channels/111111111111111111/222222222222222222/333333333333333333"
    )
    assert link("discord", {"mode": "bot"}, bot) is None
    webhook = MessageRef("444444444444444444", "333333333333333333", "webhook")
    assert link("discord", {"guild_id": 111111111111111111}, webhook) is None
    assert link(
        "discord", {"guild_id": 111111111111111111, "channel_id": 222222222222222222}, webhook
    ) == ("https://discord.com/channels/111111111111111111/222222222222222222/333333333333333333")
    in_thread = MessageRef("444444444444444444", "9", "webhook", thread="555555555555555555")
    assert link("discord", {"guild_id": 1}, in_thread) == (
        "https://discord.com/channels/1/555555555555555555/9"
    )
    assert link("discord", {"guild_id": 1}, MessageRef("c", "file.json", "outbox")) is None


def test_email_has_no_link() -> None:
    assert link("email", {}, MessageRef("list", "<id@example.org>", "smtp")) is None


def test_a_deliverys_stored_refs_give_its_links_and_a_bad_ref_gives_none() -> None:
    spec = registry.get("telegram")
    config = spec.config_model.model_validate(
        {"name": "c", "platform": "telegram", "dry_run": True, "chat": "@newsroom"}
    )
    stored = [MessageRef("-1001234567890", "42", "text").to_json(), {"nonsense": True}]
    assert registry.post_links(config, stored) == ["https://t.me/newsroom/42"]


def test_status_json_carries_the_links() -> None:
    from datetime import UTC, datetime

    from distributor.models import Delivery, DeliveryStatus, Operation
    from distributor.status_report import _delivery_json

    spec = registry.get("telegram")
    config = spec.config_model.model_validate(
        {"name": "tg", "platform": "telegram", "dry_run": True, "chat": "@newsroom"}
    )
    delivery = Delivery(
        id=1, article_id=7, channel="tg", status=DeliveryStatus.SENT, operation=Operation.SEND,
        attempts=0, next_attempt_at=datetime.now(UTC), version=1, last_error=None, outcome=None,
        refs=[MessageRef("-1001234567890", "42", "text").to_json()],
    )  # fmt: skip
    assert _delivery_json(delivery, config)["links"] == ["https://t.me/newsroom/42"]
    assert _delivery_json(delivery)["links"] == []
