"""Posts drawn the way their platform shows them, from the exact payload a preview holds.

What is drawn is decided by the payload's shape (an HTML chat message, embed cards, a MIME
message), never by a platform's name. Everything drawn is escaped or re-emitted through a short
allow-list: the desk's page never carries markup a story smuggled in.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from html import escape
from html.parser import HTMLParser
from typing import Any

from markupsafe import Markup

from distributor.registry import PostPreview

# The HTML a chat platform formats (Telegram's subset), and the attributes kept.
_CHAT_TAGS = {
    "b": "strong",
    "strong": "strong",
    "i": "em",
    "em": "em",
    "u": "u",
    "ins": "u",
    "s": "s",
    "strike": "s",
    "del": "s",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "a": "a",
    "tg-spoiler": "span",
    "span": "span",
}


def _safe_url(url: str) -> str | None:
    return url if re.match(r"^https?://", url, re.IGNORECASE) else None


class _ChatHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        shown = _CHAT_TAGS.get(tag)
        if shown is None:
            return
        if shown == "a":
            href = _safe_url(dict(attrs).get("href") or "")
            self.out.append(
                f'<a href="{escape(href)}" rel="noopener noreferrer">' if href else "<a>"
            )
        elif tag == "tg-spoiler":
            self.out.append('<span class="spoiler">')
        else:
            self.out.append(f"<{shown}>")
        self.open.append(shown)

    def handle_endtag(self, tag: str) -> None:
        shown = _CHAT_TAGS.get(tag)
        if shown is not None and shown in self.open:
            while self.open:
                closing = self.open.pop()
                self.out.append(f"</{closing}>")
                if closing == shown:
                    break

    def handle_data(self, data: str) -> None:
        self.out.append(escape(data).replace("\n", "<br>\n"))

    def result(self) -> str:
        self.close()
        return "".join(self.out) + "".join(f"</{t}>" for t in reversed(self.open))


def chat_html(source: str) -> Markup:
    """A chat message's HTML (Telegram's subset) as the reader sees it, made safe."""
    parser = _ChatHtml()
    parser.feed(source)
    return Markup(parser.result())  # noqa: S704  (re-emitted through the allow-list above)


_MD_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
_MD_BOLD = re.compile(r"\*\*(.+?)\*\*")
_MD_ITALIC = re.compile(r"(?<![*\w])[*_](?!\s)(.+?)(?<!\s)[*_](?![*\w])")


def chat_markdown(source: str) -> Markup:
    """A chat message's Markdown (links, bold, italics), escaped first, then formatted."""
    text = escape(source, quote=True)
    text = _MD_LINK.sub(r'<a href="\2" rel="noopener noreferrer">\1</a>', text)
    text = _MD_BOLD.sub(r"<strong>\1</strong>", text)
    text = _MD_ITALIC.sub(r"<em>\1</em>", text)
    return Markup(text.replace("\n", "<br>\n"))  # noqa: S704  (escaped before formatting)


@dataclass
class Drawn:
    """What a template needs to draw one post."""

    kind: str  # "message", "cards", "mail" or "text"
    body: Markup | None = None
    cards: list[dict[str, Any]] = field(default_factory=list)
    html: str | None = None  # a mail's HTML part, for a sandboxed frame (srcdoc)
    text: str | None = None
    subject: str | None = None


def _card(embed: dict[str, Any]) -> dict[str, Any]:
    footer = embed.get("footer") or {}
    image = embed.get("image") or embed.get("thumbnail") or {}
    color = embed.get("color")
    return {
        "title": str(embed.get("title") or ""),
        "url": _safe_url(str(embed.get("url") or "")),
        "description": chat_markdown(str(embed.get("description") or "")),
        "color": f"#{int(color):06x}" if isinstance(color, int) else "#5865f2",
        "footer": str(footer.get("text") or "") if isinstance(footer, dict) else "",
        "image": _safe_url(str(image.get("url") or "")) if isinstance(image, dict) else None,
        "fields": [
            {"name": str(f.get("name", "")), "value": chat_markdown(str(f.get("value", "")))}
            for f in embed.get("fields") or []
            if isinstance(f, dict)
        ],
    }


def _mail(raw: bytes) -> Drawn:
    mail = message_from_bytes(raw, policy=policy.default)
    html = text = None
    if isinstance(mail, EmailMessage):
        for part in mail.walk():
            if part.get_content_maintype() == "multipart":
                continue
            kind = part.get_content_type()
            if kind == "text/html" and html is None:
                html = str(part.get_content())
            elif kind == "text/plain" and text is None:
                text = str(part.get_content())
    return Drawn("mail", html=html, text=text, subject=str(mail.get("Subject", "")))


def draw(post: PostPreview) -> Drawn:
    """How to draw ``post``: from its payload's shape, else its plain text."""
    if post.media_type == "message/rfc822":
        return _mail(post.payload)
    if post.media_type == "application/json":
        try:
            data = json.loads(post.payload)
        except ValueError:
            return Drawn("text", text=post.text)
        params = data.get("params") if isinstance(data, dict) else None
        if isinstance(params, dict):
            source = params.get("text") or params.get("caption")
            if isinstance(source, str):
                if str(params.get("parse_mode", "")).upper() == "HTML":
                    return Drawn("message", body=chat_html(source))
                return Drawn("message", body=Markup(escape(source).replace("\n", "<br>\n")))  # noqa: S704
        payload = data.get("payload") if isinstance(data, dict) else None
        if isinstance(payload, dict) and ("embeds" in payload or "content" in payload):
            embeds = [e for e in payload.get("embeds") or [] if isinstance(e, dict)]
            content = str(payload.get("content") or "")
            return Drawn(
                "cards",
                body=chat_markdown(content) if content else None,
                cards=[_card(e) for e in embeds],
            )
    return Drawn("text", text=post.text)
