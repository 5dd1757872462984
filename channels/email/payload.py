"""Email payloads: subject, HTML (CSS inlined) and plain text, rendered once per story.

Per-recipient parts (the unsubscribe link) are left as a marker that the transport fills in
cheaply for each reader, so a 50,000-reader list costs one render, not 50,000.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import css_inline

from channels.base import OutboxEntry
from channels.email.config import DEFAULT_HTML_TEMPLATE, DEFAULT_TEXT_TEMPLATE, EmailChannelConfig
from channels.email.message import preview_message
from distributor.fitting import fit_draft
from distributor.rendering import Renderer, post_context
from distributor.types import ArticleView, MessageRef, RenderedMessage

# Stands where each reader's own unsubscribe URL goes; it survives escaping and CSS inlining.
UNSUBSCRIBE_MARKER = "https://unsubscribe.invalid/distributor-unsubscribe-marker"


def clean_subject(title: str) -> str:
    """A subject never carries CR/LF (header injection); runs of whitespace become one space."""
    return " ".join(title.split())


class EmailPayloads:
    platform: ClassVar[str] = "email"

    def __init__(self, config: EmailChannelConfig, renderer: Renderer) -> None:
        self.config = config
        self.renderer = renderer
        self.html_template = config.template or DEFAULT_HTML_TEMPLATE
        self.text_template = config.text_template or DEFAULT_TEXT_TEMPLATE
        self._inliner = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)

    def render(self, view: ArticleView) -> RenderedMessage:
        draft = fit_draft(view.title, view.lead, lambda _draft: True, view.summary_max_chars)
        context = post_context(view, draft)
        context["unsubscribe_url"] = UNSUBSCRIBE_MARKER
        context["list_name"] = self.config.list_name
        html = self._inliner.inline(self.renderer.render(self.html_template, context))
        text = self.renderer.render(self.text_template, context).strip() + "\n"
        payload = {
            "subject": clean_subject(draft.title),
            "html": html,
            "text": text,
            "language": view.language,
            "article_id": view.id,
            "version": view.version,
        }
        return RenderedMessage(payload=payload, summary=draft.summary)

    def outbox_entry(
        self, operation: str, message: RenderedMessage | None, refs: Sequence[MessageRef]
    ) -> OutboxEntry:
        return OutboxEntry(".eml", preview_message(self.config, operation, message, refs))
