"""Feed documents become items, and items drafts: formats, identity, HTML, links, images."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from distributor.feeds.config import FeedConfig
from distributor.feeds.parse import (
    ParseError,
    external_id,
    newest_first,
    parse_feed,
    to_draft,
)
from distributor.feeds.text import html_text
from tests.feeds.documents import Channel, Item, atom, json_feed, rss

FEED_URL = "https://news.example.org/feeds/all.xml"
NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def parse_rss(channel: Channel) -> list:  # type: ignore[type-arg]
    return parse_feed(rss(channel).encode(), url=FEED_URL, content_type="application/rss+xml").items


def test_rss_items_with_html_and_cdata_titles_become_plain_text() -> None:
    items = parse_rss(
        Channel(
            language="fr-FR",
            items=[
                Item(title="AT&amp;T &lt;b&gt;bold&lt;/b&gt; move", guid="a", link="/a"),
                Item(title="<![CDATA[<em>Hi</em> &amp; bye]]>", guid="b", link="/b"),
                Item(title="Caf&#233; &amp;amp; cr&#xE8;me", guid="c", link="/c"),
                Item(title="a &lt; b and c", guid="d", link="/d"),
            ],
        )
    )

    # An RSS title is HTML: "&amp;amp;" is an escaped "&amp;", which is an "&".
    assert [i.title for i in items] == [
        "AT&T bold move",
        "Hi & bye",
        "Café & crème",
        "a < b and c",
    ]
    assert {i.language for i in items} == {"fr"}


def test_descriptions_lose_markup_scripts_and_keep_paragraphs() -> None:
    description = (
        "<![CDATA[<p>First &amp; <b>bold</b> paragraph.</p>"
        "<script>alert('x')</script><p>Second<br/>line.</p>]]>"
    )
    [item] = parse_rss(Channel(items=[Item(guid="a", description=description)]))

    assert item.text == "First & bold paragraph.\n\nSecond\nline."


def test_relative_links_and_enclosures_become_absolute() -> None:
    [item] = parse_rss(
        Channel(items=[Item(guid="a", link="../story/1?x=1", image="/img/photo.jpg")])
    )

    assert item.url == "https://news.example.org/story/1?x=1"
    assert item.image == "https://news.example.org/img/photo.jpg"


def test_media_content_gives_the_image_and_categories_the_tags() -> None:
    media = '<media:content url="https://cdn.example.org/p.png" medium="image"/>'
    [item] = parse_rss(
        Channel(items=[Item(guid="a", extra=media, categories=("Politique", "#Lyon", "Politique"))])
    )

    assert item.image == "https://cdn.example.org/p.png"
    assert item.tags == ("politique", "lyon")


def test_identity_is_the_guid_else_the_link_else_a_hash_of_the_text() -> None:
    items = parse_rss(
        Channel(
            items=[
                Item(guid="urn:1", link="/one"),
                Item(link="/two"),
                Item(title="No link", description="Only text."),
            ]
        )
    )

    assert items[0].identity == "guid:urn:1"
    assert items[1].identity == "link:https://news.example.org/two"
    assert items[2].identity.startswith("hash:")
    assert len({i.key for i in items}) == 3
    # The same document parsed again gives the same keys: identity is stable.
    assert [i.key for i in parse_rss(Channel(items=[Item(link="/two")]))] == [items[1].key]


def test_a_hashed_identity_changes_with_the_text_and_the_content_hash_too() -> None:
    [a] = parse_rss(Channel(items=[Item(title="T", description="One.")]))
    [b] = parse_rss(Channel(items=[Item(title="T", description="Two.")]))
    [c] = parse_rss(Channel(items=[Item(guid="g", title="T", description="One.")]))
    [d] = parse_rss(Channel(items=[Item(guid="g", title="T", description="One, edited.")]))

    assert a.key != b.key
    assert c.key == d.key and c.content_hash != d.content_hash


def test_rss_dates_are_aware_utc() -> None:
    [item] = parse_rss(Channel(items=[Item(guid="a", published="Mon, 30 Nov 2026 08:00:00 +0100")]))

    assert item.published == datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


def test_atom_entries() -> None:
    document = atom(
        Channel(
            language="de",
            items=[
                Item(
                    guid="urn:uuid:1",
                    title="&lt;i&gt;Neu&lt;/i&gt; im Stadtrat",
                    link="/artikel/1",
                    published="2026-11-29T07:00:00+01:00",
                    description="<p>Der Stadtrat hat beschlossen.</p>",
                )
            ],
        )
    )
    parsed = parse_feed(document.encode(), url=FEED_URL, content_type="application/atom+xml")

    [item] = parsed.items
    assert parsed.kind.startswith("atom")
    assert item.identity == "guid:urn:uuid:1"
    assert item.title == "Neu im Stadtrat"
    assert item.text == "Der Stadtrat hat beschlossen."
    assert item.url == "https://news.example.org/artikel/1"
    assert item.language == "de"
    assert item.published == datetime(2026, 11, 29, 6, 0, tzinfo=UTC)


def test_rss_1_0() -> None:
    document = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
  <channel rdf:about="https://news.example.org/"><title>N</title><link>https://news.example.org/</link>
    <description>d</description></channel>
  <item rdf:about="https://news.example.org/rdf/1"><title>RDF story</title>
    <link>https://news.example.org/rdf/1</link><description>Text of it.</description></item>
</rdf:RDF>"""
    parsed = parse_feed(document, url=FEED_URL)

    assert parsed.kind == "rss10"
    assert [(i.title, i.url) for i in parsed.items] == [
        ("RDF story", "https://news.example.org/rdf/1")
    ]


def test_rss_0_91() -> None:
    document = b"""<?xml version="1.0"?><rss version="0.91"><channel><title>N</title>
<link>https://news.example.org/</link><description>d</description><language>en</language>
<item><title>Old style</title><link>https://news.example.org/o/1</link>
<description>Old text.</description></item></channel></rss>"""
    parsed = parse_feed(document, url=FEED_URL)

    assert parsed.kind.startswith("rss09")
    assert [i.identity for i in parsed.items] == ["link:https://news.example.org/o/1"]


def test_json_feed_items() -> None:
    document = json_feed(
        Channel(
            language="es-ES",
            items=[
                Item(
                    guid="1",
                    title="Ola &amp; <b>calor</b>",
                    link="articulo/1",
                    description="<p>Hace mucho calor.</p>",
                    published="2026-11-29T07:00:00Z",
                    image="/img/sol.jpg",
                    categories=("Tiempo",),
                ),
                Item(guid=None, link="articulo/2", title="Sin id"),
            ],
        ),
        feed_url="https://news.example.org/feeds/feed.json",
    )
    parsed = parse_feed(document.encode(), url=FEED_URL, content_type="application/feed+json")

    first, second = parsed.items
    assert parsed.kind == "json"
    assert first.identity == "guid:1"
    assert first.title == "Ola & calor"
    assert first.text == "Hace mucho calor."
    assert first.url == "https://news.example.org/feeds/articulo/1"
    assert first.image == "https://news.example.org/img/sol.jpg"
    assert first.language == "es"
    assert first.tags == ("tiempo",)
    assert first.published == datetime(2026, 11, 29, 7, 0, tzinfo=UTC)
    assert second.identity == "link:https://news.example.org/feeds/articulo/2"


def test_json_feed_image_attachments_and_numeric_ids() -> None:
    document = {
        "version": "https://jsonfeed.org/version/1",
        "items": [
            {
                "id": 7,
                "content_text": "Plain.",
                "attachments": [
                    {"url": "/a.mp3", "mime_type": "audio/mpeg"},
                    {"url": "/a.jpg", "mime_type": "image/jpeg"},
                ],
            }
        ],
    }
    [item] = parse_feed(json.dumps(document).encode(), url=FEED_URL).items

    assert item.identity == "guid:7"
    assert item.image == "https://news.example.org/a.jpg"
    assert item.text == "Plain." and item.title == ""


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"garbage {{{ <<<", "application/xml", "not an RSS or Atom feed"),
        (b"<rss><channel><item><title>cut &bad; <<<", "application/xml", "malformed feed"),
        (b"<html><body><p>Hello</p></body></html>", "text/html", "not an RSS or Atom feed"),
        (b'{"items": []}', "application/json", "not a JSON Feed"),
        (b"{not json", "application/feed+json", "invalid JSON"),
    ],
)
def test_what_is_not_a_feed_is_refused(body: bytes, content_type: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_feed(body, url=FEED_URL, content_type=content_type)


def test_a_broken_but_readable_feed_is_read_with_a_note() -> None:
    document = rss(Channel(items=[Item(guid="a", title="Fine"), Item(guid="b")]))
    broken = document.replace("</channel></rss>", "<unclosed></channel></rss>")

    parsed = parse_feed(broken.encode(), url=FEED_URL)

    assert [i.title for i in parsed.items][:1] == ["Fine"]
    assert any("not well-formed" in note for note in parsed.notes)


def test_an_empty_feed_has_no_items() -> None:
    parsed = parse_feed(rss(Channel()).encode(), url=FEED_URL)

    assert parsed.items == [] and parsed.kind == "rss20"


def test_html_text_decodes_entities_and_drops_hidden_elements() -> None:
    html = (
        "<div><h2>Head &eacute;</h2><style>p{}</style><p>One&nbsp;&amp;&#32;two</p>"
        "<ul><li>a</li><li>b</li></ul><!-- c --></div>"
    )

    assert html_text(html) == "Head é\n\nOne & two\n\na\n\nb"


def test_a_draft_carries_the_feed_defaults_and_a_stable_external_id() -> None:
    feed = FeedConfig(
        name="wire", url=FEED_URL, tags=("wire", "Politique"), priority=3, language="fr"
    )
    [item] = parse_rss(
        Channel(
            items=[
                Item(
                    guid="a",
                    link="/a",
                    title="T " * 200,
                    published="Mon, 30 Dec 2030 08:00:00 +0000",
                    categories=("Politique", "Lyon"),
                )
            ]
        )
    )

    draft = to_draft(item, feed, now=NOW, language="fr")

    assert draft.external_id == external_id("wire", item.key) == f"feed:wire:{item.key}"
    assert draft.dedup_key == f"id:feed:wire:{item.key}"
    assert draft.source == "wire"
    assert draft.tags == ("wire", "politique", "lyon")
    assert draft.priority == 3
    assert draft.url == "https://news.example.org/a"
    assert len(draft.title) <= 300 and draft.title.endswith("…")
    assert draft.publish_at == NOW  # a date in the future never holds the story back


def test_a_page_text_replaces_the_teaser_but_the_feed_title_stays() -> None:
    feed = FeedConfig(name="wire", url=FEED_URL)
    [item] = parse_rss(Channel(items=[Item(guid="a", title="Feed title", description="Teaser.")]))

    draft = to_draft(item, feed, now=NOW, language="en", text="Full text.", title="Page title")

    assert (draft.title, draft.body) == ("Feed title", "Full text.")


def test_newest_first_puts_undated_items_last_in_document_order() -> None:
    items = parse_rss(
        Channel(
            items=[
                Item(guid="u1"),
                Item(guid="old", published="Mon, 23 Nov 2026 08:00:00 +0000"),
                Item(guid="u2"),
                Item(guid="new", published="Sun, 29 Nov 2026 08:00:00 +0000"),
            ]
        )
    )

    assert [i.identity for i in newest_first(items)] == [
        "guid:new",
        "guid:old",
        "guid:u1",
        "guid:u2",
    ]
