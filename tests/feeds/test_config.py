"""The ``feeds:`` entries: durations, URLs, secrets, defaults, unique names."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from distributor.feeds.config import FeedConfig, duplicate_names

URL = "https://news.example.org/feed.xml"


def test_defaults() -> None:
    feed = FeedConfig(name="wire", url=URL)

    assert feed.interval == 300
    assert (feed.full_text, feed.on_update, feed.backfill) == ("auto", "ignore", 0)
    assert (feed.tags, feed.language, feed.priority, feed.headers) == ((), None, 0, {})


@pytest.mark.parametrize(
    ("given", "seconds"), [("5m", 300), ("1h 30m", 5400), (90, 90), ("120", 120), ("1d", 86400)]
)
def test_interval_in_seconds_or_as_a_duration(given: object, seconds: float) -> None:
    assert FeedConfig(name="wire", url=URL, interval=given).interval == seconds


@pytest.mark.parametrize("given", ["30s", 59, "soon", "5 parsecs"])
def test_interval_below_a_minute_or_unreadable_is_refused(given: object) -> None:
    with pytest.raises(ValidationError, match="interval"):
        FeedConfig(name="wire", url=URL, interval=given)


@pytest.mark.parametrize("url", ["ftp://news.example.org/feed", "news.example.org/feed", "http://"])
def test_only_http_urls(url: str) -> None:
    with pytest.raises(ValidationError, match="http"):
        FeedConfig(name="wire", url=url)


def test_names_follow_the_channel_pattern() -> None:
    with pytest.raises(ValidationError):
        FeedConfig(name="Wire Feed", url=URL)


def test_headers_are_secrets_and_must_be_sendable() -> None:
    feed = FeedConfig(name="wire", url=URL, headers={"Authorization": "Bearer s3cret"})

    assert "s3cret" not in repr(feed)
    assert feed.headers["Authorization"].get_secret_value() == "Bearer s3cret"
    with pytest.raises(ValidationError, match="header name"):
        FeedConfig(name="wire", url=URL, headers={"Bad Name": "x"})
    with pytest.raises(ValidationError, match="line break"):
        FeedConfig(name="wire", url=URL, headers={"X-Token": "a\r\nInjected: 1"})


def test_tags_and_language_are_normalised() -> None:
    feed = FeedConfig(name="wire", url=URL, tags=("#Lyon", "lyon", " Sport "), language="FR")

    assert feed.tags == ("lyon", "sport")
    assert feed.language == "fr"
    with pytest.raises(ValidationError, match="language code"):
        FeedConfig(name="wire", url=URL, language="french")


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        FeedConfig(name="wire", url=URL, intervall="5m")  # type: ignore[call-arg]


def test_every_field_is_described() -> None:
    undescribed = [name for name, f in FeedConfig.model_fields.items() if not f.description]
    assert undescribed == []


def test_duplicate_names_are_reported_once_each() -> None:
    feeds = [FeedConfig(name=n, url=URL) for n in ("a", "b", "a", "c", "a", "b")]

    assert duplicate_names(feeds) == [
        "feed name 'a' is used 3 times; each feed needs its own name",
        "feed name 'b' is used 2 times; each feed needs its own name",
    ]
    assert duplicate_names(feeds[1:2]) == []
