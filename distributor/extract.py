"""A story's full text from its web page, with trafilatura; for feeds and ``queue --from-url``.

The page is fetched by the feeds' polite client (size cap, deadlines, redirect cap), then
trafilatura finds the main text, the title, the lead image and the date; the page's own
``<html lang>`` gives the language when it says one. Extraction is CPU work on untrusted HTML:
it runs in a worker thread (``asyncio.to_thread``) under a deadline, on a bounded input.

Every refusal is an ``ExtractError`` (an ``IngestError``) naming the URL and the reason: not
HTML, too large, timed out, no text found, or the fetch failed.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import trafilatura
from trafilatura.settings import use_config
from trafilatura.utils import load_html

from distributor import errors, ingest, language, summary, timeparse, wakeup
from distributor.feeds import fetch, parse
from distributor.feeds import text as feed_text
from distributor.store import Queued, Store
from distributor.types import ArticleDraft

if TYPE_CHECKING:
    from distributor import editorial

log = logging.getLogger("distributor.extract")

MAX_PAGE_BYTES = 3_000_000
EXTRACT_SECONDS = 20.0
# A page with more elements than this is not an article (and would cost seconds to walk).
MAX_TREE_SIZE = 60_000
# Less than this is a menu or a caption, not a story.
MIN_TEXT_CHARS = 40
TEASER_CHARS = 400
TEASER_SENTENCES = 3
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})

_CONFIG = use_config()
# trafilatura's own timeout uses signals, which only work on the main thread: the deadline
# here is asyncio's instead.
_CONFIG.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")
_CONFIG.set("DEFAULT", "MAX_TREE_SIZE", str(MAX_TREE_SIZE))


class ExtractErrorKind(enum.StrEnum):
    NOT_HTML = "not_html"
    TOO_LARGE = "too_large"
    TIMED_OUT = "timed_out"
    NO_TEXT = "no_text"
    FETCH_FAILED = "fetch_failed"


class ExtractError(errors.IngestError):
    """The page gave no story; ``str()`` is ``"<url>: <reason>"``."""

    def __init__(self, kind: ExtractErrorKind, url: str, reason: str) -> None:
        self.kind = kind
        self.url = url
        self.reason = reason
        super().__init__(f"{url}: {reason}")


@dataclass(frozen=True, slots=True)
class Extracted:
    """What the page holds: its main text and, where found, title, image, language, date."""

    url: str
    text: str
    title: str | None
    image: str | None
    language: str | None
    published: datetime | None


def is_teaser(text: str, language_code: str | None = None) -> bool:
    """Fewer than three sentences, or under 400 characters: the feed only sketched the story."""
    text = text.strip()
    if len(text) < TEASER_CHARS:
        return True
    return len(summary.sentences(text, language_code or "en")) < TEASER_SENTENCES


def extract_html(html: bytes | str, url: str) -> Extracted:
    """The story in ``html`` (a page fetched from ``url``); blocking, CPU-bound.

    Raises:
        ExtractError: no main text could be found.
    """
    tree = load_html(html)
    if tree is None:
        raise ExtractError(ExtractErrorKind.NO_TEXT, url, "no text found (the page is not HTML)")
    page_language = parse.language_code(tree.get("lang") or tree.get("xml:lang"))
    document: Any = trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        config=_CONFIG,
    )
    text = (getattr(document, "text", None) or "").strip() if document is not None else ""
    if len(text) < MIN_TEXT_CHARS:
        raise ExtractError(ExtractErrorKind.NO_TEXT, url, "no text found in the page")
    title = feed_text.one_line(document.title or "") or None
    return Extracted(
        url=url,
        text=_paragraphs(text, title),
        title=title,
        image=parse.absolute_url(url, document.image),
        language=page_language,
        published=_date(document.date),
    )


def _paragraphs(text: str, title: str | None) -> str:
    # trafilatura puts one paragraph a line; the stories' bodies separate them by a blank line.
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # The page's headline often opens the text: the story has it as its title already.
    if title and len(lines) > 1 and feed_text.one_line(lines[0]).casefold() == title.casefold():
        lines = lines[1:]
    return "\n\n".join(lines)


def _date(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return timeparse.as_aware(datetime.fromisoformat(value), UTC)
    except ValueError:
        return None


async def fetch_article(
    url: str,
    client: fetch.FeedClient,
    *,
    max_bytes: int | None = None,
    extract_seconds: float = EXTRACT_SECONDS,
    public_only: bool = False,
) -> Extracted:
    """Fetch the page at ``url`` and extract its story.

    ``public_only`` refuses pages on non-public addresses (see ``FeedClient.get``): the
    poller sets it for links found in a feed.

    Raises:
        ExtractError: not HTML, too large, timed out (fetching or extracting), no text found,
            or the fetch failed (the reason says how).
    """
    cap = max_bytes if max_bytes is not None else min(MAX_PAGE_BYTES, client.limits.max_bytes)
    try:
        page = await client.get(
            url, accept=fetch.HTML_ACCEPT, max_bytes=cap, public_only=public_only
        )
    except fetch.FetchError as exc:
        raise _refusal(exc) from None
    if page.media_type not in _HTML_TYPES and not (
        page.media_type == "" and b"<html" in page.body[:2048].lower()
    ):
        shown = page.media_type or "no content type"
        raise ExtractError(ExtractErrorKind.NOT_HTML, url, f"not an HTML page ({shown})")
    html: bytes | str = page.body
    if page.charset:
        try:
            html = page.body.decode(page.charset, errors="replace")
        except LookupError:  # an unknown charset name: let trafilatura guess
            html = page.body
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(extract_html, html, page.url), extract_seconds
        )
    except TimeoutError:
        raise ExtractError(
            ExtractErrorKind.TIMED_OUT, url, f"extracting the text took over {extract_seconds:g} s"
        ) from None


def _refusal(exc: fetch.FetchError) -> ExtractError:
    kinds = {
        fetch.FetchErrorKind.TOO_LARGE: ExtractErrorKind.TOO_LARGE,
        fetch.FetchErrorKind.TIMEOUT: ExtractErrorKind.TIMED_OUT,
    }
    kind = kinds.get(exc.kind, ExtractErrorKind.FETCH_FAILED)
    reason = {
        ExtractErrorKind.TOO_LARGE: f"page too large: {exc.detail}",
        ExtractErrorKind.TIMED_OUT: f"timed out: {exc.detail}",
    }.get(kind, f"cannot fetch the page: {exc.detail}")
    return ExtractError(kind, exc.url, reason)


# -- queue --from-url -------------------------------------------------------------------------

Detector = Callable[[str, str], str | None]


async def draft_from_url(
    url: str,
    client: fetch.FeedClient,
    options: ingest.IngestOptions,
    *,
    detect: Detector = language.detect_story,
) -> ArticleDraft:
    """The story at ``url`` as a draft; the editor's options win over what the page says.

    The URL is the story's identity: the same page queued twice is queued once.

    Raises:
        ExtractError: see ``fetch_article``; also for a page without a title.
        IngestError: ``url`` is not an http(s) URL, or ``--at`` cannot be read.
    """
    url = ingest.check_url(url, "URL", url)
    page = await fetch_article(url, client)
    if not page.title:
        raise ExtractError(ExtractErrorKind.NO_TEXT, url, "no title found in the page")
    story_language = options.language or page.language
    if story_language is None:
        story_language = await asyncio.to_thread(detect, page.title, page.text)
    try:
        publish_at = (
            timeparse.parse_when(options.at, now=options.now, zone=options.zone)
            if options.at
            else options.now
        )
    except ValueError as exc:
        raise errors.IngestError(f"{url}: publish time: {exc}") from None
    return ArticleDraft(
        title=parse.shorten(page.title),
        body=page.text,
        publish_at=publish_at,
        url=options.url or url,
        image=page.image,
        language=(story_language or options.default_language).lower(),
        tags=tuple(dict.fromkeys(options.tags)),
        priority=options.priority or 0,
        source=urlsplit(url).hostname,
    )


async def queue_urls(
    store: Store,
    urls: Iterable[str],
    options: ingest.IngestOptions,
    *,
    client: fetch.FeedClient | None = None,
    queue: Callable[[ArticleDraft], Awaitable[Queued]] | None = None,
) -> editorial.QueueOutcome:
    """Queue the story of every URL; one refused page never stops the others."""
    from distributor import editorial

    outcome = editorial.QueueOutcome()
    add = queue or store.add_article
    own_client = client is None
    http = client or fetch.FeedClient()
    try:
        for url in urls:
            try:
                draft = await draft_from_url(url, http, options)
            except errors.IngestError as exc:
                outcome.refused.append(str(exc))
                continue
            await outcome.record(store, url, await add(draft), draft, options)
    finally:
        if own_client:
            await http.aclose()
    if outcome.queued or outcome.updated:
        await wakeup.notify(store)
    return outcome
