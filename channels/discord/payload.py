"""Discord payloads: one embed (title linked to the story, summary, image, source, time).

Article text only ever lands in the embed, which never pings anyone; ``allowed_mentions``
admits nothing but the breaking-news role the admin configured. Every documented limit is met
by fitting the summary, counted in UTF-16 units, the stricter of the two possible units.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, ClassVar

from discord.utils import escape_markdown, escape_mentions

from distributor.adapter import OutboxEntry
from distributor.fitting import Draft, cut_with_ellipsis, fit_draft
from distributor.rendering import Renderer, post_context
from distributor.types import ArticleView, MessageRef, RenderedMessage
from distributor_channels.discord.config import DEFAULT_TEMPLATE, DiscordChannelConfig

CONTENT_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
EMBEDS_TOTAL_LIMIT = 6000

_LINE_START = re.compile(r"^(#|>|-|\*|\d+\.)", re.MULTILINE)


def units(text: str | None) -> int:
    """Length in UTF-16 code units, whitespace at the ends not counted (as Discord trims it)."""
    return len(text.strip().encode("utf-16-le")) // 2 if text else 0


def escape_text(text: str) -> str:
    """Article text → inert Discord markdown: no formatting, no headings, no mentions."""
    return _LINE_START.sub(r"\\\1", escape_markdown(escape_mentions(text)))


def escape_url(url: str) -> str:
    # Inside [label](url) a ")" or a space would end the link early.
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29").replace("<", "%3C")


def embed_total(embed: dict[str, Any]) -> int:
    return (
        units(embed.get("title"))
        + units(embed.get("description"))
        + units(embed.get("footer", {}).get("text"))
        + units(embed.get("author", {}).get("name"))
        + sum(units(f.get("name")) + units(f.get("value")) for f in embed.get("fields", ()))
    )


class DiscordPayloads:
    platform: ClassVar[str] = "discord"

    def __init__(self, config: DiscordChannelConfig, renderer: Renderer) -> None:
        self.config = config
        self.renderer = renderer
        self.template = config.template or DEFAULT_TEMPLATE

    def _embed(self, view: ArticleView, draft: Draft) -> dict[str, Any]:
        context = post_context(view, draft, escape=escape_text, url_escape=escape_url)
        embed: dict[str, Any] = {
            "type": "rich",
            "title": draft.title,
            "color": self.config.colour,
            "timestamp": view.published_at.isoformat(),
        }
        description = self.renderer.render(self.template, context).strip()
        if description:
            # An alert or a bare headline may render nothing here; a title-only embed is valid.
            embed["description"] = description
        if view.url:
            embed["url"] = view.url
        if view.image:
            embed["image"] = {"url": view.image}
        if self.config.source_name:
            author: dict[str, Any] = {"name": self.config.source_name}
            if self.config.source_url:
                author["url"] = self.config.source_url
            embed["author"] = author
        if self.config.footer:
            embed["footer"] = {"text": self.config.footer}
        return embed

    def _fits(self, embed: dict[str, Any]) -> bool:
        # No lower bound on the description: fitting starts from an empty summary, which must
        # fit whenever the title alone does.
        return (
            units(embed["title"]) <= TITLE_LIMIT
            and units(embed.get("description")) <= DESCRIPTION_LIMIT
            and embed_total(embed) <= EMBEDS_TOTAL_LIMIT
        )

    def render(self, view: ArticleView) -> RenderedMessage:
        title = escape_text(view.title)
        if units(title) > TITLE_LIMIT:
            title = cut_with_ellipsis(title, lambda t: units(t) <= TITLE_LIMIT) or "…"
        draft = fit_draft(
            title, view.lead, lambda d: self._fits(self._embed(view, d)), view.summary_max_chars
        )
        embed = self._embed(view, draft)
        payload: dict[str, Any] = {"embeds": [embed], "allowed_mentions": {"parse": []}}
        role = self.config.mention_role
        if role is not None and view.priority >= self.config.mention_min_priority:
            payload["content"] = f"<@&{role}>"
            payload["allowed_mentions"] = {"parse": [], "roles": [str(role)]}
        if self.config.mode == "webhook":
            if self.config.username:
                payload["username"] = self.config.username
            if self.config.avatar_url:
                payload["avatar_url"] = self.config.avatar_url
        return RenderedMessage(payload=payload, summary=draft.summary)

    def outbox_entry(
        self, operation: str, message: RenderedMessage | None, refs: Sequence[MessageRef]
    ) -> OutboxEntry:
        record: dict[str, Any] = {"operation": operation, "mode": self.config.mode}
        if refs:
            record["message_id"] = refs[0].message_id
        if message is not None:
            record["payload"] = dict(message.payload)
        return OutboxEntry(".json", json.dumps(record, ensure_ascii=False, indent=2).encode())
