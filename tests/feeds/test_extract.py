"""Full text from article pages served locally, and ``queue --from-url``'s refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from distributor import extract
from distributor.feeds.fetch import FeedClient
from distributor.ingest import IngestOptions
from distributor.store import Store
from tests.conftest import FakeClock
from tests.feeds.conftest import TEST_LIMITS
from tests.feeds.documents import LONG_TEXT, page
from tests.feeds.server import HTML, FeedServer, Reply

OPENINGS = {
    "fr": "Le conseil municipal a voté mardi soir, à une large majorité",
    "en": "The town council voted on Tuesday evening, by a large majority",
    "de": "Der Stadtrat hat am Dienstagabend mit großer Mehrheit",
}
TITLES = {
    "fr": "Rénovation des écoles : le plan adopté par le conseil municipal",
    "en": "Council approves plan to renovate the town's schools",
    "de": "Stadtrat beschließt Sanierung der Schulen",
}


def options(clock: FakeClock, **given: object) -> IngestOptions:
    return IngestOptions(now=clock.now, zone=UTC, **given)  # type: ignore[arg-type]


@pytest.mark.parametrize("code", ["fr", "en", "de"])
async def test_the_article_text_title_image_language_and_date(
    server: FeedServer, client: FeedClient, code: str
) -> None:
    server.set(f"/{code}/story", Reply(page(code), content_type=HTML))

    found = await extract.fetch_article(server.url(f"/{code}/story"), client)

    paragraphs = found.text.split("\n\n")
    assert paragraphs[0].startswith(OPENINGS[code])  # the headline is not repeated
    assert len(paragraphs) == 5
    assert "©" not in found.text and "Accueil" not in found.text  # no footer, no menu
    assert found.title == TITLES[code]
    assert found.language == code
    assert found.image is not None and found.image.startswith("http")
    assert found.published == datetime(2026, 11, 28, tzinfo=UTC)


def test_teasers() -> None:
    assert extract.is_teaser("One short line.")
    two_long_sentences = ("A long sentence that goes on and on, " * 6 + "and ends. ") * 2
    assert len(two_long_sentences) > 400
    assert extract.is_teaser(two_long_sentences)
    assert not extract.is_teaser(LONG_TEXT)


@pytest.mark.parametrize(
    ("reply", "kind", "reason"),
    [
        (Reply(b"\x89PNG...", content_type="image/png"), "not_html", "not an HTML page"),
        (Reply("x" * (TEST_LIMITS.max_bytes + 1), content_type=HTML), "too_large", "too large"),
        (Reply(hang=True), "timed_out", "timed out"),
        (
            Reply("<html><body><nav>Menu</nav></body></html>", content_type=HTML),
            "no_text",
            "no text",
        ),
        (Reply("gone", status=404, content_type=HTML), "fetch_failed", "HTTP 404"),
    ],
)
async def test_refusals_name_the_url_and_the_reason(
    server: FeedServer, client: FeedClient, reply: Reply, kind: str, reason: str
) -> None:
    server.set("/page", reply)
    url = server.url("/page")

    with pytest.raises(extract.ExtractError) as caught:
        await extract.fetch_article(url, client)

    assert caught.value.kind == kind
    assert str(caught.value).startswith(f"{url}: ")
    assert reason in str(caught.value)


async def test_a_draft_from_a_url(server: FeedServer, client: FeedClient, clock: FakeClock) -> None:
    server.set("/de/story", Reply(page("de"), content_type=HTML))
    url = server.url("/de/story")

    draft = await extract.draft_from_url(
        url, client, options(clock, tags=("lokal",), priority=4, at="in 1h")
    )

    assert draft.title == TITLES["de"]
    assert draft.body.startswith(OPENINGS["de"])
    assert (draft.url, draft.language, draft.tags, draft.priority) == (url, "de", ("lokal",), 4)
    assert draft.publish_at == clock.now + timedelta(hours=1)
    assert draft.source == "127.0.0.1"


async def test_the_language_is_detected_when_the_page_does_not_say(
    server: FeedServer, client: FeedClient, clock: FakeClock
) -> None:
    server.set("/story", Reply(page("fr").replace(' lang="fr-FR"', ""), content_type=HTML))

    draft = await extract.draft_from_url(server.url("/story"), client, options(clock))
    given = await extract.draft_from_url(
        server.url("/story"), client, options(clock, language="it")
    )

    assert draft.language == "fr"
    assert given.language == "it"  # the editor's word wins


async def test_queue_urls_queues_once_and_refuses_with_reasons(
    server: FeedServer, client: FeedClient, clock: FakeClock, sqlite_store: Store
) -> None:
    server.set("/en/story", Reply(page("en"), content_type=HTML))
    server.set("/image", Reply(b"GIF89a", content_type="image/gif"))
    good, bad = server.url("/en/story"), server.url("/image")

    outcome = await extract.queue_urls(
        sqlite_store, [good, bad, good, "not a url"], options(clock), client=client
    )

    assert [(url, draft.title) for url, _, draft in outcome.queued] == [(good, TITLES["en"])]
    assert outcome.duplicates == [(good, outcome.queued[0][1])]
    assert len(outcome.refused) == 2
    assert outcome.refused[0] == f"{bad}: not an HTML page (image/gif)"
    assert "not a valid http(s) URL" in outcome.refused[1]
    article = await sqlite_store.get_article(outcome.queued[0][1])
    assert article is not None and article.language == "en" and article.url == good
