"""Plain, frozen data passed between the core and the channel adapters."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class PromoLink:
    """One "join us" link: a label and the public URL readers follow to join a channel."""

    label: str
    url: str
    channel: str | None = None


@dataclass(frozen=True, slots=True)
class Promo:
    """The invitation that ends every post, already stripped of the channel being posted to."""

    text: str
    links: tuple[PromoLink, ...]


@dataclass(frozen=True, slots=True)
class ArticleView:
    """What a payload builder sees of an article: data only, never template source.

    ``lead`` holds the summary candidates (the standfirst's or the body's sentences, in order,
    promo boilerplate removed); the builder keeps as many as fit the platform.
    """

    id: int
    version: int
    title: str
    url: str | None
    image: str | None
    language: str
    tags: tuple[str, ...]
    priority: int
    published_at: datetime
    lead: tuple[str, ...]
    promo: Promo | None
    labels: Mapping[str, str]
    summary_max_chars: int | None = None
    # A line the post ends with: the "Corrected" note of a correction, or the withdrawal
    # notice a retracted post is edited into where it cannot be deleted.
    notice: str | None = None
    withdrawn: bool = False
    # The admin's words per language (``labels:``): for a builder that words some of its own
    # parts in another language than the story's (the email footer, in the list's language).
    label_overrides: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """A platform payload, JSON-serialisable, plus the summary it carries (for people)."""

    payload: Mapping[str, Any]
    summary: str


@dataclass(frozen=True, slots=True)
class MessageRef:
    """Where a post landed on the platform, enough to edit or delete it later."""

    target: str
    message_id: str
    kind: str = ""
    thread: str | None = None

    def to_json(self) -> dict[str, str]:
        data = {"target": self.target, "message_id": self.message_id, "kind": self.kind}
        if self.thread is not None:
            data["thread"] = self.thread
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MessageRef:
        thread = data.get("thread")
        return cls(
            target=str(data["target"]),
            message_id=str(data["message_id"]),
            kind=str(data.get("kind", "")),
            thread=None if thread is None else str(thread),
        )


@dataclass(frozen=True, slots=True)
class SendResult:
    """A successful send or edit: the platform refs and when it happened (aware UTC)."""

    refs: tuple[MessageRef, ...]
    sent_at: datetime
    note: str = ""
    # What a send did beyond posting, in words, stored as the delivery's outcome (``status``
    # shows it), e.g. "posted, not pinned: …"; None for a plain post.
    outcome: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryTicket:
    """Identifies the delivery an adapter call belongs to (adapters get it in a ``SendContext``).

    ``key`` is stable across retries and processes, so adapters use it as their idempotency
    key (Discord nonce, email Message-ID, outbox file name).
    """

    delivery_id: int
    article_id: int
    channel: str
    version: int
    attempt: int
    extra: Mapping[str, Any] = field(default_factory=dict)
    priority: int = 0
    # At or above ``dispatch.breaking_priority``: adapters may spend the budget they keep
    # free for breaking news, so the post overtakes a backlog that waits on a rate limit.
    breaking: bool = False
    # False during a channel's quiet hours in ``silent`` mode: post without a notification.
    notify: bool = True
    # A follow-up: where the original story's post is on this channel, to reply to it.
    reply_to: MessageRef | None = None
    # The delivery's operation (send, edit, delete): an edit made for a "delete" is the
    # withdrawal notice a retraction leaves where the platform cannot delete.
    operation: str = "send"

    @property
    def key(self) -> str:
        return f"a{self.article_id}d{self.delivery_id}"


@dataclass(frozen=True, slots=True)
class ArticleDraft:
    """A story as an editor handed it in, validated, before it has an id."""

    title: str
    body: str
    publish_at: datetime
    body_format: str = "text"
    standfirst: str | None = None
    url: str | None = None
    image: str | None = None
    language: str = "en"
    tags: tuple[str, ...] = ()
    priority: int = 0
    external_id: str | None = None
    source: str | None = None
    follow_up_of: int | None = None  # the article this one updates (a developing story)

    @property
    def dedup_key(self) -> str:
        """External id, else URL, else a hash of the text: the same story is queued once."""
        if self.external_id:
            return f"id:{self.external_id}"
        if self.url:
            return f"url:{self.url}"
        digest = hashlib.sha256(f"{self.title}\n{self.body}".encode()).hexdigest()
        return f"sha256:{digest}"


@dataclass(frozen=True, slots=True)
class DigestItem:
    """One story a digest lists: title, link and a one-line summary."""

    article_id: int
    title: str
    url: str | None
    summary: str
    priority: int
    published_at: datetime


@dataclass(frozen=True, slots=True)
class DigestView:
    """What a platform's digest builder sees: the heading and the stories, best first.

    ``items`` are ordered priority first, then newest; the builder keeps as many as fit the
    platform. ``empty_text`` is what an empty digest says (``empty: post``).
    """

    channel: str
    title: str
    window_start: datetime
    window_end: datetime
    items: tuple[DigestItem, ...]
    empty_text: str
    language: str = "en"
    # The admin's words per language (``labels:``): for a builder that words the digest in
    # another language than ``language`` (an email list's own).
    label_overrides: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
