"""The admin's ``feeds:`` entries, validated like the rest of the configuration."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from distributor.config import NAME_PATTERN, Strict
from distributor.timeparse import parse_duration

DEFAULT_INTERVAL_SECONDS = 300.0
MIN_INTERVAL_SECONDS = 60.0
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
# RFC 9110 token characters: anything else cannot be sent as a header name.
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


class FeedConfig(Strict):
    """One newsroom feed the service polls; its new items become stories."""

    name: str = Field(
        pattern=NAME_PATTERN,
        description="unique name of the feed; stories it produces have it as their source",
    )
    url: str = Field(description="the feed's http(s) address (RSS, Atom or JSON Feed)")
    interval: float = Field(
        default=DEFAULT_INTERVAL_SECONDS,
        description="time between polls: seconds, or a duration such as '5m' or '1h' "
        "(at least one minute)",
    )
    tags: tuple[str, ...] = Field(
        default=(), description="tags every story from this feed gets, besides the item's own"
    )
    language: str | None = Field(
        default=None,
        description="language code of the feed's stories; unset: the item's declared language, "
        "else detected from the text, else the configuration's default",
    )
    priority: int = Field(
        default=0, ge=-1000, le=1000, description="priority of the stories from this feed"
    )
    full_text: Literal["auto", "always", "never"] = Field(
        default="auto",
        description="fetch the article page for its full text: 'auto' when the feed carries "
        "only a teaser, 'always', or 'never'",
    )
    backfill: int = Field(
        default=0,
        ge=0,
        le=100,
        description="on the first poll, queue this many of the newest items (the others are "
        "only remembered)",
    )
    headers: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="extra request headers (e.g. an Authorization token through ${VAR}); "
        "held as secrets, never printed",
    )
    on_update: Literal["ignore", "correct"] = Field(
        default="ignore",
        description="when an item already queued changes in the feed: 'ignore' it, or "
        "'correct' the story (its posts get edited)",
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname or " " in url.strip():
            raise ValueError(f"not an http(s) URL: {url!r}")
        return url.strip()

    @field_validator("interval", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            try:
                return float(text)
            except ValueError:
                pass
            try:
                return parse_duration(text).total_seconds()
            except ValueError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("interval")
    @classmethod
    def _not_too_often(cls, seconds: float) -> float:
        if seconds < MIN_INTERVAL_SECONDS:
            raise ValueError(
                f"interval must be at least {MIN_INTERVAL_SECONDS:.0f} seconds (one minute); "
                f"got {seconds:g}"
            )
        return seconds

    @field_validator("tags")
    @classmethod
    def _clean_tags(cls, tags: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = (t.strip().lstrip("#").lower() for t in tags)
        return tuple(dict.fromkeys(t for t in cleaned if t))

    @field_validator("language")
    @classmethod
    def _language_code(cls, language: str | None) -> str | None:
        if language is None:
            return None
        language = language.strip().lower()
        if not _LANGUAGE.match(language):
            raise ValueError(f"{language!r} is not a language code like 'fr'")
        return language

    @field_validator("headers")
    @classmethod
    def _header_names(cls, headers: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name, value in headers.items():
            if not _HEADER_NAME.match(name):
                raise ValueError(f"invalid header name {name!r}")
            if any(c in value.get_secret_value() for c in "\r\n\x00"):
                raise ValueError(f"header {name!r}: the value holds a line break")
        return headers


def duplicate_names(feeds: Iterable[FeedConfig]) -> list[str]:
    """Problems for feed names used more than once (empty when every name is unique).

    ``AppConfig`` calls this from its validator: a feed's name is the key of its state, so two
    entries with one name would share (and fight over) one history.
    """
    counts = Counter(feed.name for feed in feeds)
    return [
        f"feed name {name!r} is used {count} times; each feed needs its own name"
        for name, count in sorted(counts.items())
        if count > 1
    ]
