"""Telegram payloads: ``sendPhoto`` with an HTML caption, or ``sendMessage`` with a preview.

Both variants are fitted to their limit (caption 1024, text 4096, counted as Telegram counts)
so a refused photo can fall back to text without rendering again.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from distributor import errors
from distributor.adapter import OutboxEntry
from distributor.fitting import Draft, fit_draft
from distributor.rendering import Renderer, post_context
from distributor.types import ArticleView, MessageRef, RenderedMessage
from distributor_channels.telegram import html
from distributor_channels.telegram.config import DEFAULT_TEMPLATE, TelegramChannelConfig

WEB_URL = re.compile(r"^https?://\S+$", re.IGNORECASE)


class TelegramPayloads:
    """Renders an article into the Bot API call that posts it (no I/O)."""

    platform: ClassVar[str] = "telegram"

    def __init__(self, config: TelegramChannelConfig, renderer: Renderer) -> None:
        self.config = config
        self.renderer = renderer
        self.template = config.template or DEFAULT_TEMPLATE

    def _markup(self, view: ArticleView, draft: Draft, media: str) -> str:
        context = post_context(view, draft)
        context["media"] = media
        markup = self.renderer.render(self.template, context).strip()
        found = html.problems(markup)
        if found:
            raise errors.TemplateError(
                f"template {self.template!r} produces HTML Telegram refuses: {'; '.join(found)}"
            )
        return markup

    def _fitted(self, view: ArticleView, limit: int, media: str) -> tuple[str, str]:
        budget = view.summary_max_chars

        def fits(draft: Draft) -> bool:
            markup = self._markup(view, draft, media)
            return html.length(markup) <= limit and len(markup.encode()) <= html.RAW_TEXT_BYTES

        draft = fit_draft(view.title, view.lead, fits, budget)
        return self._markup(view, draft, media), draft.summary

    def common_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"chat_id": self.config.chat, "parse_mode": "HTML"}
        if self.config.topic is not None:
            params["message_thread_id"] = self.config.topic
        if self.config.disable_notification:
            params["disable_notification"] = True
        if self.config.protect_content:
            params["protect_content"] = True
        return params

    def link_preview(self, url: str | None) -> dict[str, Any]:
        options = self.config.link_preview
        if not options.enabled or not url:
            return {"is_disabled": True}
        preview: dict[str, Any] = {"url": url}
        if options.prefer_large_media:
            preview["prefer_large_media"] = True
        if options.show_above_text:
            preview["show_above_text"] = True
        return preview

    def render(self, view: ArticleView) -> RenderedMessage:
        text, summary = self._fitted(view, html.TEXT_LIMIT, "text")
        message = {
            "method": "sendMessage",
            "params": {
                **self.common_params(),
                "text": text,
                "link_preview_options": self.link_preview(view.url),
            },
        }
        # Only web images: python-telegram-bot would upload a local path's file.
        if not (view.image and self.config.images and WEB_URL.match(view.image)):
            return RenderedMessage(payload=message, summary=summary)
        caption, summary = self._fitted(view, html.CAPTION_LIMIT, "photo")
        photo = {
            "method": "sendPhoto",
            "params": {**self.common_params(), "photo": view.image, "caption": caption},
            "fallback": message,
        }
        return RenderedMessage(payload=photo, summary=summary)

    def outbox_entry(
        self, operation: str, message: RenderedMessage | None, refs: Sequence[MessageRef]
    ) -> OutboxEntry:
        ref = refs[0] if refs else None
        if ref is not None and ref.kind == "outbox":
            # A dry-run post's ref names the outbox file: the request names the configured chat.
            ref = dataclasses.replace(ref, target=self.config.chat)
        if operation == "send" and message is not None:
            request = {"method": message.payload["method"], "params": message.payload["params"]}
        elif operation in ("edit", "withdraw") and message is not None:
            request = edit_request(message.payload, ref)
        else:
            request = delete_request(ref, self.config.chat)
        return OutboxEntry(".json", json.dumps(request, ensure_ascii=False, indent=2).encode())


def edit_request(payload: Mapping[str, Any], ref: MessageRef | None) -> dict[str, Any]:
    """editMessageCaption for a photo post, editMessageText for a text post.

    A photo post whose new version has no image gets the text version as its caption when
    it fits; otherwise Telegram refuses the edit ("there is no text in the message to edit").
    """
    params = payload["params"]
    target = {
        "chat_id": ref.target if ref else params["chat_id"],
        "message_id": ref.message_id if ref else None,
    }
    if payload["method"] == "sendPhoto" and (ref is None or ref.kind != "text"):
        return {
            "method": "editMessageCaption",
            "params": {**target, "caption": params["caption"], "parse_mode": "HTML"},
        }
    text_params = payload.get("fallback", payload)["params"]
    if (
        ref is not None
        and ref.kind == "photo"
        and html.length(text_params["text"]) <= (html.CAPTION_LIMIT)
    ):
        # The story lost its image: a photo cannot become text, but its caption can say it.
        return {
            "method": "editMessageCaption",
            "params": {**target, "caption": text_params["text"], "parse_mode": "HTML"},
        }
    return {
        "method": "editMessageText",
        "params": {
            **target,
            "text": text_params["text"],
            "parse_mode": "HTML",
            "link_preview_options": text_params.get("link_preview_options"),
        },
    }


def delete_request(ref: MessageRef | None, chat: str) -> dict[str, Any]:
    """deleteMessage for a post (the channel's chat when there is no ref, for the outbox)."""
    return {
        "method": "deleteMessage",
        "params": {
            "chat_id": ref.target if ref else chat,
            "message_id": ref.message_id if ref else None,
        },
    }
