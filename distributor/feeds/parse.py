"""Feed documents → items → drafts: RSS 0.9x/1.0/2.0 and Atom through feedparser, JSON Feed 1.x.

An item's identity is its guid (or Atom id, or JSON Feed id), else its link, else a hash of its
title and content: that identity, hashed with nothing else, is the item's key. HTML in titles
and descriptions becomes plain text (``text.html_text``: entities decoded, tags dropped,
scripts and styles left out). Links and images are made absolute against the feed's URL.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser  # type: ignore[import-untyped]

from distributor.feeds.config import FeedConfig
from distributor.feeds.text import html_text, one_line
from distributor.types import ArticleDraft

TITLE_MAX = 300  # the limit story files have too
MAX_ITEM_TAGS = 10
MAX_TAG_CHARS = 64
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
_JSON_FEED_VERSION = "https://jsonfeed.org/version/"


class ParseError(Exception):
    """The document is not a feed this reader understands; the message says why."""


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One entry of a feed, as plain text, with its identity."""

    key: str  # sha256 of ``identity``: the item's key in the feed's history
    identity: str  # "guid:…", "link:…" or "hash:…"
    title: str
    text: str
    url: str | None
    image: str | None
    language: str | None  # as the item (or its feed) declares it, primary subtag only
    published: datetime | None
    tags: tuple[str, ...] = ()

    @property
    def content_hash(self) -> str:
        """Changes when the item's title, text or link change (an update in the feed)."""
        data = "\x1f".join((self.title, self.text, self.url or ""))
        return hashlib.sha256(data.encode()).hexdigest()


@dataclass(frozen=True)
class ParsedFeed:
    """The items of a feed document, in document order, and notes on what was odd about it."""

    kind: str  # feedparser's version ("rss20", "atom10" …) or "json"
    title: str | None
    items: list[FeedItem]
    notes: list[str] = field(default_factory=list)


def _text_of(value: str | None, kind: str | None) -> str:
    """Text of a feed field, whose type says whether it holds HTML."""
    if not value:
        return ""
    if kind in ("text/plain", "text"):
        return value.strip()
    return html_text(value)


# -- identity ---------------------------------------------------------------------------------


def identity_of(guid: str | None, link: str | None, title: str, text: str) -> str:
    """guid, else link, else a hash of the title and the content."""
    if guid and guid.strip():
        return f"guid:{guid.strip()}"
    if link:
        return f"link:{link}"
    digest = hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()
    return f"hash:{digest}"


def key_of(identity: str) -> str:
    return hashlib.sha256(identity.encode()).hexdigest()


def external_id(feed_name: str, item_key: str) -> str:
    """The story's external id: stable for one item of one feed, whatever the item becomes."""
    return f"feed:{feed_name}:{item_key}"


def absolute_url(base: str, link: str | None) -> str | None:
    """``link`` resolved against ``base``; None unless it is an http(s) URL."""
    if not link or not link.strip():
        return None
    url = urljoin(base, link.strip())
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2048:
        return None
    if any(c.isspace() for c in url):
        return None
    return url


def language_code(value: object) -> str | None:
    """'fr-FR', 'en_us', 'DE' → 'fr', 'en', 'de'; None for anything else."""
    if not isinstance(value, str):
        return None
    primary = re.split(r"[-_]", value.strip().lower(), maxsplit=1)[0]
    return primary if _LANGUAGE.match(primary) else None


# -- parsing ----------------------------------------------------------------------------------


def parse_feed(body: bytes, *, url: str, content_type: str | None = None) -> ParsedFeed:
    """The items of ``body``, a feed fetched from ``url`` (for relative links).

    Raises:
        ParseError: not RSS, Atom or JSON Feed, or too broken to read any item from.
    """
    media = (content_type or "").split(";")[0].strip().lower()
    if "json" in media or body.lstrip()[:1] == b"{":
        return _parse_json_feed(body, url)
    return _parse_xml_feed(body, url, content_type)


def _parse_xml_feed(body: bytes, url: str, content_type: str | None) -> ParsedFeed:
    headers = {"content-location": url, "content-type": content_type or "application/xml"}
    # Bytes, never a str: feedparser would take a string for a URL and fetch it.
    document = feedparser.parse(body, response_headers=headers)
    version = document.get("version") or ""
    notes: list[str] = []
    problem = document.get("bozo_exception")
    if not version and not document.entries:
        reason = f": {problem}" if problem else ""
        raise ParseError(f"not an RSS or Atom feed{reason}")
    if document.get("bozo") and problem is not None:
        notes.append(f"the feed is not well-formed ({problem}); read what could be read")
    feed = document.get("feed", {})
    feed_language = language_code(feed.get("language")) or language_code(
        (feed.get("title_detail") or {}).get("language")
    )
    items = [_xml_item(entry, url, feed_language) for entry in document.entries]
    kept = [item for item in items if item is not None]
    if document.get("bozo") and problem is not None and not kept:
        # Broken and nothing readable: a failure to report, not an empty feed.
        raise ParseError(f"malformed feed, no item could be read: {problem}")
    if len(kept) < len(items):
        notes.append(f"{len(items) - len(kept)} item(s) without title or text left out")
    title = one_line(_text_of(feed.get("title"), (feed.get("title_detail") or {}).get("type")))
    return ParsedFeed(version or "unknown", title or None, kept, notes)


def _xml_item(entry: Mapping[str, Any], base: str, feed_language: str | None) -> FeedItem | None:
    title_detail = entry.get("title_detail") or {}
    title = one_line(_text_of(entry.get("title"), title_detail.get("type")))
    content = entry.get("content") or []
    body_part = max(content, key=lambda c: len(c.get("value") or ""), default=None)
    if body_part is not None and body_part.get("value"):
        text = _text_of(body_part.get("value"), body_part.get("type"))
    else:
        summary_type = (entry.get("summary_detail") or {}).get("type")
        text = _text_of(entry.get("summary"), summary_type)
    if not title and not text:
        return None
    link = absolute_url(base, entry.get("link"))
    identity = identity_of(entry.get("id"), link, title, text)
    language = (
        language_code(title_detail.get("language"))
        or language_code((body_part or {}).get("language"))
        or feed_language
    )
    return FeedItem(
        key=key_of(identity),
        identity=identity,
        title=title,
        text=text,
        url=link,
        image=_xml_image(entry, base),
        language=language,
        published=_struct_time(entry.get("published_parsed") or entry.get("updated_parsed")),
        tags=_tags(t.get("term") or t.get("label") for t in entry.get("tags") or []),
    )


def _xml_image(entry: Mapping[str, Any], base: str) -> str | None:
    candidates: list[str | None] = []
    for enclosure in entry.get("enclosures") or []:
        if str(enclosure.get("type") or "").startswith("image/"):
            candidates.append(enclosure.get("href"))
    for media in entry.get("media_content") or []:
        if media.get("medium") == "image" or str(media.get("type") or "").startswith("image/"):
            candidates.append(media.get("url"))
    for thumbnail in entry.get("media_thumbnail") or []:
        candidates.append(thumbnail.get("url"))
    for candidate in candidates:
        url = absolute_url(base, candidate)
        if url:
            return url
    return None


def _struct_time(value: time.struct_time | None) -> datetime | None:
    if value is None:
        return None
    try:
        # feedparser normalises to UTC; timegm reads the struct as UTC.
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (OverflowError, ValueError):
        return None


def _parse_json_feed(body: bytes, url: str) -> ParsedFeed:
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"not a JSON Feed: invalid JSON ({exc})") from None
    if not isinstance(data, dict) or not str(data.get("version", "")).startswith(
        _JSON_FEED_VERSION
    ):
        raise ParseError("not a JSON Feed: no https://jsonfeed.org/version/ version key")
    raw_items = data.get("items")
    if not isinstance(raw_items, list):
        raise ParseError("not a JSON Feed: 'items' is not a list")
    base = data.get("feed_url") if isinstance(data.get("feed_url"), str) else url
    base = absolute_url(url, base) or url
    feed_language = language_code(data.get("language"))
    notes: list[str] = []
    items: list[FeedItem] = []
    for raw in raw_items:
        item = _json_item(raw, base, feed_language) if isinstance(raw, dict) else None
        if item is None:
            notes.append("an item without title or text (or not an object) was left out")
            continue
        items.append(item)
    title = data.get("title")
    return ParsedFeed("json", one_line(title) if isinstance(title, str) else None, items, notes)


def _json_item(raw: Mapping[str, Any], base: str, feed_language: str | None) -> FeedItem | None:
    title = one_line(html_text(raw["title"])) if isinstance(raw.get("title"), str) else ""
    if isinstance(raw.get("content_html"), str) and raw["content_html"].strip():
        text = html_text(raw["content_html"])
    elif isinstance(raw.get("content_text"), str):
        text = raw["content_text"].strip()
    elif isinstance(raw.get("summary"), str):
        text = raw["summary"].strip()
    else:
        text = ""
    if not title and not text:
        return None
    link = absolute_url(base, raw.get("url") if isinstance(raw.get("url"), str) else None)
    guid = raw.get("id")
    identity = identity_of(
        str(guid) if isinstance(guid, (str, int)) and not isinstance(guid, bool) else None,
        link,
        title,
        text,
    )
    image = None
    for candidate in (raw.get("image"), raw.get("banner_image")):
        image = absolute_url(base, candidate if isinstance(candidate, str) else None)
        if image:
            break
    if image is None:
        for attachment in raw.get("attachments") or []:
            if isinstance(attachment, dict) and str(attachment.get("mime_type", "")).startswith(
                "image/"
            ):
                image = absolute_url(base, attachment.get("url"))
                if image:
                    break
    published = _iso_time(raw.get("date_published")) or _iso_time(raw.get("date_modified"))
    tags: list[Any] = raw["tags"] if isinstance(raw.get("tags"), list) else []
    return FeedItem(
        key=key_of(identity),
        identity=identity,
        title=title,
        text=text,
        url=link,
        image=image,
        language=language_code(raw.get("language")) or feed_language,
        published=published,
        tags=_tags(t for t in tags if isinstance(t, str)),
    )


def _iso_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _tags(values: Iterable[object]) -> tuple[str, ...]:
    found: list[str] = []
    for value in values:
        if isinstance(value, str):
            tag = one_line(value).lstrip("#").lower()
            if tag and len(tag) <= MAX_TAG_CHARS:
                found.append(tag)
    return tuple(dict.fromkeys(found))[:MAX_ITEM_TAGS]


# -- drafts -----------------------------------------------------------------------------------


def newest_first(items: Sequence[FeedItem]) -> list[FeedItem]:
    """Dated items newest first, then undated ones in document order (feeds list newest first)."""
    dated = sorted(
        (i for i in items if i.published is not None),
        key=lambda i: i.published or datetime.min.replace(tzinfo=UTC),
        reverse=True,
    )
    return dated + [i for i in items if i.published is None]


def shorten(title: str, limit: int = TITLE_MAX) -> str:
    """``title`` cut at a word boundary with an ellipsis when longer than ``limit``."""
    if len(title) <= limit:
        return title
    cut = title[: limit - 1].rsplit(" ", 1)[0] or title[: limit - 1]
    return cut.rstrip(" ,;:-") + "…"


def to_draft(
    item: FeedItem,
    feed: FeedConfig,
    *,
    now: datetime,
    language: str,
    text: str | None = None,
    title: str | None = None,
    image: str | None = None,
) -> ArticleDraft:
    """The story a feed item becomes. ``text`` (the article page's) replaces the feed's teaser;
    ``title`` and ``image`` (the page's too) only fill what the item lacks.

    The publish time is the item's date, never later than ``now``: an old item is due at once,
    and a date in the future (a clock gone wrong) does not hold the story back.
    """
    body = (text or item.text).strip()
    headline = one_line(item.title or title or "") or one_line(body)[:120] or "(untitled)"
    published = min(item.published, now) if item.published else now
    return ArticleDraft(
        title=shorten(headline),
        body=body or headline,
        publish_at=published,
        url=item.url,
        image=item.image or image,
        language=language,
        tags=tuple(dict.fromkeys((*feed.tags, *item.tags))),
        priority=feed.priority,
        external_id=external_id(feed.name, item.key),
        source=feed.name,
    )
