"""Feed documents the tests serve: RSS 2.0, Atom and JSON Feed, written out by hand."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

PAGES = Path(__file__).resolve().parent.parent / "data" / "articles"

LONG_TEXT = (
    "The council met on Tuesday evening to vote on the plan. "
    "After a long debate the plan was approved by a large majority. "
    "Work on the first schools will begin in September and last two years. "
    "Parents' groups welcomed the decision but asked for a clear timetable. "
    "The opposition said the budget was too small for the number of buildings. "
    "The mayor promised a public meeting in every district before the works start."
)


@dataclass
class Item:
    """One feed entry; ``None`` leaves the element out."""

    title: str | None = "A story"
    link: str | None = None
    guid: str | None = None
    description: str | None = LONG_TEXT
    published: str | None = None  # RFC 822 for RSS, RFC 3339 for Atom and JSON
    image: str | None = None
    categories: tuple[str, ...] = ()
    extra: str = ""  # raw XML appended inside the item


@dataclass
class Channel:
    title: str = "Example newsroom"
    link: str = "https://news.example.org/"
    language: str | None = None
    items: list[Item] = field(default_factory=list)


def rss(channel: Channel) -> str:
    """RSS 2.0; titles and descriptions are written as given (raw XML allowed: CDATA, entities)."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/">',
        "<channel>",
        f"<title>{escape(channel.title)}</title><link>{escape(channel.link)}</link>",
        "<description>Test feed</description>",
    ]
    if channel.language:
        parts.append(f"<language>{channel.language}</language>")
    for item in channel.items:
        parts.append("<item>")
        if item.title is not None:
            parts.append(f"<title>{item.title}</title>")
        if item.link is not None:
            parts.append(f"<link>{escape(item.link)}</link>")
        if item.guid is not None:
            parts.append(f'<guid isPermaLink="false">{escape(item.guid)}</guid>')
        if item.description is not None:
            parts.append(f"<description>{item.description}</description>")
        if item.published is not None:
            parts.append(f"<pubDate>{item.published}</pubDate>")
        if item.image is not None:
            parts.append(f'<enclosure url="{escape(item.image)}" type="image/jpeg" length="1"/>')
        parts.extend(f"<category>{escape(c)}</category>" for c in item.categories)
        parts.append(item.extra)
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts)


def atom(channel: Channel) -> str:
    lang = f' xml:lang="{channel.language}"' if channel.language else ""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<feed xmlns="http://www.w3.org/2005/Atom"{lang}>',
        f"<title>{escape(channel.title)}</title>",
        f'<link href="{escape(channel.link)}"/>',
        "<id>urn:example:feed</id><updated>2026-11-29T08:00:00Z</updated>",
    ]
    for item in channel.items:
        parts.append("<entry>")
        if item.title is not None:
            parts.append(f'<title type="html">{item.title}</title>')
        if item.link is not None:
            parts.append(f'<link rel="alternate" href="{escape(item.link)}"/>')
        if item.guid is not None:
            parts.append(f"<id>{escape(item.guid)}</id>")
        if item.published is not None:
            parts.append(f"<updated>{item.published}</updated>")
        if item.description is not None:
            parts.append(f'<content type="html">{escape(item.description)}</content>')
        if item.image is not None:
            parts.append(f'<link rel="enclosure" type="image/jpeg" href="{escape(item.image)}"/>')
        parts.append(item.extra)
        parts.append("</entry>")
    parts.append("</feed>")
    return "\n".join(parts)


def json_feed(channel: Channel, feed_url: str | None = None) -> str:
    items = []
    for item in channel.items:
        entry: dict[str, object] = {}
        if item.guid is not None:
            entry["id"] = item.guid
        if item.link is not None:
            entry["url"] = item.link
        if item.title is not None:
            entry["title"] = item.title
        if item.description is not None:
            entry["content_html"] = item.description
        if item.published is not None:
            entry["date_published"] = item.published
        if item.image is not None:
            entry["image"] = item.image
        if item.categories:
            entry["tags"] = list(item.categories)
        items.append(entry)
    data: dict[str, object] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": channel.title,
        "home_page_url": channel.link,
        "items": items,
    }
    if feed_url:
        data["feed_url"] = feed_url
    if channel.language:
        data["language"] = channel.language
    return json.dumps(data, ensure_ascii=False)


def page(language: str) -> str:
    """The article page in ``language`` (fr, en, de) from tests/data/articles."""
    return (PAGES / f"{language}.html").read_text(encoding="utf-8")
