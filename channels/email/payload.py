"""Email payloads: subject, HTML (CSS inlined) and plain text, rendered once per story.

Per-recipient parts (the unsubscribe link) are left as a marker that the transport fills in
cheaply for each reader, so a 50,000-reader list costs one render, not 50,000.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import ClassVar

import css_inline

from distributor import errors, labels
from distributor.adapter import OutboxEntry
from distributor.fitting import fit_draft
from distributor.rendering import Renderer, post_context
from distributor.types import ArticleView, MessageRef, RenderedMessage
from distributor_channels.email import markers, wording
from distributor_channels.email.config import (
    DEFAULT_HTML_TEMPLATE,
    DEFAULT_TEXT_TEMPLATE,
    EmailChannelConfig,
)
from distributor_channels.email.markers import UNSUBSCRIBE_MARKER
from distributor_channels.email.message import (
    PREVIEW_RECIPIENT,
    PREVIEW_UNSUBSCRIBE,
    clean_subject,
    original_article,
    preview_message,
)
from distributor_channels.email.notices import build_notice
from distributor_channels.email.topics import normalise_topics

__all__ = ["UNSUBSCRIBE_MARKER", "EmailPayloads", "clean_subject"]


class EmailPayloads:
    """Renders a story's newsletter once: subject, inlined HTML, plain text, and its tags."""

    platform: ClassVar[str] = "email"
    # What the live adapter can do, so a dry run takes the same path (see OutboxAdapter).
    supports_edit: ClassVar[bool] = False
    supports_delete: ClassVar[bool] = False
    sends_notices: ClassVar[bool] = True
    # A follow-up is the "Update: …" mail threaded to the original: the outbox hands a send
    # the original's post, so the dry run writes that mail too.
    threads_follow_ups: ClassVar[bool] = True

    def __init__(self, config: EmailChannelConfig, renderer: Renderer) -> None:
        self.config = config
        self.renderer = renderer
        self.html_template = config.template or DEFAULT_HTML_TEMPLATE
        self.text_template = config.text_template or DEFAULT_TEXT_TEMPLATE
        self._inliner = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)

    def render(self, view: ArticleView) -> RenderedMessage:
        draft = fit_draft(view.title, view.lead, lambda _draft: True, view.summary_max_chars)
        context = post_context(view, draft)
        # A nonce of this render: no story text can hold it, so only the template's slots
        # ever receive a reader's unsubscribe URL.
        unsubscribe = markers.new_unsubscribe()
        context["unsubscribe_url"] = unsubscribe
        context["list_name"] = self.config.list_title or self.config.list_name
        context.update(self._footer(view))
        html = self._inliner.inline(self.renderer.render(self.html_template, context))
        text = self.renderer.render(self.text_template, context).strip() + "\n"
        if unsubscribe not in html or unsubscribe not in text:
            # Gmail and Yahoo require a visible unsubscribe link in the body (docs/email.md).
            raise errors.TemplateError(
                "email templates must show {{ unsubscribe_url }} in both the HTML and the text part"
            )
        payload = {
            "subject": clean_subject(draft.title),
            "html": html,
            "text": text,
            "language": view.language,
            "article_id": view.id,
            "version": view.version,
            # The fan-out mails a story to the readers whose topics match these.
            "tags": normalise_topics(view.tags),
            "unsubscribe_marker": unsubscribe,
            # Used when the story is the update of one the readers got (a follow-up).
            "update_subject": clean_subject(f"{view.labels['update_subject']}: {draft.title}"),
        }
        if view.notice:
            payload.update(notice_parts(view, draft.title, context["list_name"], unsubscribe))
        return RenderedMessage(payload=payload, summary=draft.summary)

    def _footer(self, view: ArticleView) -> dict[str, object]:
        """The footer's words in the list's language, not the story's: it speaks for the list.

        ``labels.why_received`` and ``labels.unsubscribe`` (which admins' templates may show)
        are replaced by the list's; ``labels.preferences`` names what the link opens.
        """
        language = self.config.language
        core = labels.labels_for(language, view.label_overrides)
        words = wording.words(language, view.label_overrides)
        return {
            "labels": {
                **view.labels,
                "why_received": core["why_received"],
                "unsubscribe": core["unsubscribe"],
                "preferences": words["manage_preferences"],
            },
            "footer_language": language,
        }

    def outbox_entry(
        self, operation: str, message: RenderedMessage | None, refs: Sequence[MessageRef]
    ) -> OutboxEntry | None:
        if operation in ("edit", "withdraw") and (
            message is None or not message.payload.get("notice")
        ):
            return None  # a silent correction: live mails nothing
        if operation in ("edit", "withdraw") and message is not None:
            # The notice one sample reader would get, threaded to that reader's copy.
            payload = message.payload
            notice = build_notice(
                self.config,
                payload,
                article_id=int(payload.get("article_id", 0)),
                subscriber_id=0,
                address=PREVIEW_RECIPIENT,
                unsubscribe_url=PREVIEW_UNSUBSCRIBE,
                date=datetime.now(UTC),
            )
            return OutboxEntry(".eml", notice)
        update_of = None
        if operation == "send" and refs:
            update_of = _original_of(refs[0])
        mail = preview_message(self.config, operation, message, refs, update_of=update_of)
        return OutboxEntry(".eml", mail)


def _original_of(ref: MessageRef) -> int | None:
    """The article of the original's post a follow-up replies to."""
    found = original_article(ref.message_id)  # live: ``a<article>.<list>@<domain>``
    if found is None:
        # A dry run's post is the outbox file, named after its article: ``00012-…``.
        match = re.match(r"(\d+)-", ref.message_id)
        found = int(match.group(1)) if match else None
    return found


def notice_parts(view: ArticleView, title: str, list_name: str, unsubscribe: str) -> dict[str, str]:
    """The short mail a correction or withdrawal sends the readers who got the story.

    The plain text carries the unsubscribe marker, filled in per reader like a story's.
    """
    labels = view.labels
    prefix = labels["withdrawal_subject" if view.withdrawn else "correction_subject"]
    lines = [str(view.notice), "", title]
    if view.url:
        lines.append(view.url)
    lines += ["", "--", f"{labels['why_received']} {list_name}.", f"{labels['unsubscribe']}: "]
    return {
        "notice": str(view.notice),
        "notice_kind": "withdrawn" if view.withdrawn else f"v{view.version}",
        "notice_subject": clean_subject(f"{prefix}: {title}"),
        "notice_text": "\n".join(lines) + unsubscribe + "\n",
    }
