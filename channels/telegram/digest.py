"""A Telegram digest: one ``sendMessage`` listing the stories, within Telegram's text limit."""

from __future__ import annotations

from typing import Any

from distributor.rendering import Renderer
from distributor.types import DigestItem, DigestView, RenderedMessage
from distributor_channels.telegram import html
from distributor_channels.telegram.config import TelegramChannelConfig
from distributor_channels.telegram.payload import TelegramPayloads


def _entry(item: DigestItem, with_summary: bool) -> str:
    title = html.escape(item.title)
    line = f'• <a href="{html.escape(item.url)}">{title}</a>' if item.url else f"• <b>{title}</b>"
    if with_summary and item.summary:
        line += f"\n{html.escape(item.summary)}"
    return line


def _fits(text: str) -> bool:
    return html.length(text) <= html.TEXT_LIMIT and len(text.encode()) <= html.RAW_TEXT_BYTES


def digest_text(view: DigestView) -> str:
    """The heading, then as many stories as fit (a story loses its summary before it is left
    out; the list stops at the first story that does not fit even bare, keeping the order)."""
    text = f"<b>{html.escape(view.title)}</b>"
    if not view.items:
        return f"{text}\n\n{html.escape(view.empty_text)}"
    for item in view.items:
        for with_summary in (True, False):
            candidate = f"{text}\n\n{_entry(item, with_summary)}"
            if _fits(candidate):
                text = candidate
                break
        else:
            break
    return text


def render_digest(
    config: TelegramChannelConfig, renderer: Renderer, view: DigestView
) -> RenderedMessage:
    params: dict[str, Any] = {
        **TelegramPayloads(config, renderer).common_params(),
        "text": digest_text(view),
        "link_preview_options": {"is_disabled": True},
    }
    return RenderedMessage(
        payload={"method": "sendMessage", "params": params},
        summary=f"{view.title}: {len(view.items)} stories",
    )
