"""Digest windows from cron in a zone, and each platform's digest fitted to its limits."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from distributor.config import DigestConfig
from distributor.digest_windows import latest_fire, next_fire, trigger
from distributor.types import DigestItem, DigestView
from distributor_channels.discord.digest import MAX_FIELDS, digest_embed
from distributor_channels.discord.payload import EMBEDS_TOTAL_LIMIT, embed_total
from distributor_channels.telegram import html
from distributor_channels.telegram.digest import digest_text

PARIS = ZoneInfo("Europe/Paris")
WHEN = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def view(n: int, title_chars: int = 60, summary_chars: int = 190) -> DigestView:
    items = tuple(
        DigestItem(
            article_id=i,
            title=f"Story {i} " + "t" * title_chars,
            url=f"https://news.example.org/{i}",
            summary="s" * summary_chars,
            priority=0,
            published_at=WHEN,
        )
        for i in range(n)
    )
    return DigestView("c", "Briefing <&>", WHEN, WHEN, items, "Nothing new.")


def test_the_schedule_is_read_in_the_configured_zone_across_a_dst_change() -> None:
    cron = trigger(DigestConfig(schedule="0 7 * * *"), PARIS)
    # 07:00 in Paris is 06:00 UTC in winter and 05:00 UTC in summer.
    assert latest_fire(cron, datetime(2026, 3, 28, 12, tzinfo=UTC)) == datetime(
        2026, 3, 28, 6, tzinfo=UTC
    )
    assert next_fire(cron, datetime(2026, 3, 28, 12, tzinfo=UTC)) == datetime(
        2026, 3, 29, 5, tzinfo=UTC
    )


def test_latest_fire_finds_rare_schedules_and_includes_the_exact_time() -> None:
    yearly = trigger(DigestConfig(schedule="0 7 1 1 *"), ZoneInfo("UTC"))
    assert latest_fire(yearly, WHEN) == datetime(2026, 1, 1, 7, tzinfo=UTC)
    daily = trigger(DigestConfig(schedule="0 7 * * *"), ZoneInfo("UTC"))
    exact = datetime(2026, 11, 29, 7, tzinfo=UTC)
    assert latest_fire(daily, exact) == exact


@pytest.mark.parametrize("schedule", ["every morning", "61 7 * * *", "0 7 * *"])
def test_a_bad_schedule_is_refused_with_its_text(schedule: str) -> None:
    with pytest.raises(ValidationError, match="cron"):
        DigestConfig(schedule=schedule)


def test_telegram_digest_is_one_message_within_the_limit_in_order() -> None:
    text = digest_text(view(500))
    assert html.length(text) <= html.TEXT_LIMIT
    assert text.startswith("<b>Briefing &lt;&amp;&gt;</b>")
    shown = [line for line in html.visible_text(text).split("\n") if line.startswith("• ")]
    assert 5 < len(shown) < 500
    assert shown == [f"• Story {i} " + "t" * 60 for i in range(len(shown))]
    assert html.problems(text) == []


def test_telegram_empty_digest_says_so() -> None:
    assert "Nothing new." in digest_text(view(0))


def test_discord_digest_is_one_embed_within_25_fields_and_6000_characters() -> None:
    for n, title_chars, summary_chars in [(100, 60, 190), (30, 240, 1500), (3, 10, 10)]:
        embed = digest_embed(view(n, title_chars, summary_chars))
        assert 0 < len(embed["fields"]) <= MAX_FIELDS
        assert embed_total(embed) <= EMBEDS_TOTAL_LIMIT
        assert all(len(f["name"]) <= 256 and len(f["value"]) <= 1024 for f in embed["fields"])
    assert len(digest_embed(view(100, 20, 50))["fields"]) == MAX_FIELDS  # the field cap binds
    assert len(digest_embed(view(3, 10, 10))["fields"]) == 3
