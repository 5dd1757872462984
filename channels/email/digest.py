"""An email digest: one newsletter listing the stories, title, link and a one-line summary each.

It is rendered once, like a story (HTML with its CSS inlined, plain text), with the same
unsubscribe marker the transport fills in per reader, so each reader's copy carries their own
unsubscribe link, ``List-Unsubscribe`` headers, footer, DKIM signature and Return-Path: the
adapter mails it through the story's code with a ledger of its own (``sendlog.DIGESTS``).
Everything in it speaks the list's ``language``: the digest speaks for the list.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import css_inline
from sqlalchemy import select

from distributor import errors, labels
from distributor.models import Article
from distributor.rendering import Renderer
from distributor.store import Store
from distributor.types import DigestView, RenderedMessage
from distributor_channels.email import markers, wording
from distributor_channels.email.config import (
    DIGEST_HTML_TEMPLATE,
    DIGEST_TEXT_TEMPLATE,
    EmailChannelConfig,
)
from distributor_channels.email.message import DIGEST_KIND, clean_subject, is_digest
from distributor_channels.email.topics import normalise_topics

__all__ = ["audience", "is_digest", "render_digest"]


def _words(config: EmailChannelConfig, view: DigestView) -> dict[str, str]:
    language = config.language
    core = labels.labels_for(language, view.label_overrides)
    words = wording.words(language, view.label_overrides)
    return {
        "read_more": core["read_more"],
        "why_received": core["why_received"],
        "unsubscribe": core["unsubscribe"],
        "preferences": words["manage_preferences"],
        "digest_empty": core["digest_empty"],
    }


def render_digest(
    config: EmailChannelConfig, renderer: Renderer, view: DigestView
) -> RenderedMessage:
    """The digest's newsletter, with a per-reader unsubscribe marker in both parts.

    Raises:
        errors.TemplateError: a template does not show ``{{ unsubscribe_url }}`` in both parts.
    """
    unsubscribe = markers.new_unsubscribe()
    words = _words(config, view)
    context: dict[str, Any] = {
        "title": view.title,
        "items": [
            {"title": item.title, "url": item.url, "summary": item.summary} for item in view.items
        ],
        "empty_text": words["digest_empty"],
        "labels": words,
        "language": config.language,
        "footer_language": config.language,
        "list_name": config.list_title or config.list_name,
        "unsubscribe_url": unsubscribe,
        "window_start": view.window_start,
        "window_end": view.window_end,
    }
    inliner = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)
    html = inliner.inline(renderer.render(DIGEST_HTML_TEMPLATE, context))
    text = renderer.render(DIGEST_TEXT_TEMPLATE, context).strip() + "\n"
    if unsubscribe not in html or unsubscribe not in text:
        # Gmail and Yahoo require a visible unsubscribe link in the body, digests included.
        raise errors.TemplateError(
            "email digest templates must show {{ unsubscribe_url }} in both the HTML and the "
            "text part"
        )
    payload = {
        "kind": DIGEST_KIND,
        "subject": clean_subject(view.title),
        "html": html,
        "text": text,
        "language": config.language,
        "article_id": 0,  # no story: ``stories`` lists them
        "stories": [item.article_id for item in view.items],
        "unsubscribe_marker": unsubscribe,
    }
    return RenderedMessage(payload=payload, summary=f"{view.title}: {len(view.items)} stories")


async def audience(store: Store, story_ids: Iterable[int]) -> list[str] | None:
    """The topics a reader must follow one of to get the digest; None: every reader.

    A reader who chose topics gets a digest listing at least one story of those topics, as
    they would get that story (the digest is one newsletter: it lists the same stories for
    every reader); a reader without topics gets every digest. An empty digest (``empty:
    post``) goes to every reader: it is the list's scheduled mail.
    """
    ids = [int(i) for i in story_ids]
    if not ids:
        return None
    async with store.session() as session:
        tags = (await session.scalars(select(Article.tags).where(Article.id.in_(ids)))).all()
    return normalise_topics([tag for story in tags for tag in (story or ())])
