"""Every editorial action the desk and the API offer, in one place, each one audited.

The API and the desk's pages are two faces of this module: the same checks, the same messages,
the same audit entries. Actions are done with the core's own tools (``ingest`` reads a story's
keys, ``preview`` renders it, ``ledger`` corrects, retracts and retries, ``unsent`` reschedules).
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from distributor import editorial, errors, ingest, registry, unsent
from distributor.config import CORRECTION_NOTICES
from distributor.desk import audit
from distributor.desk.models import Role
from distributor.hooks.events import Notice
from distributor.ledger import Ledger
from distributor.models import Article, ArticleStatus, Delivery, DeliveryStatus, Operation
from distributor.preview import ChannelPreview, excluded_by, preview_story
from distributor.store import Queued
from distributor.timeparse import parse_when
from distributor.types import ArticleDraft
from distributor.web import WebContext

MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: ``user:ana`` or ``token:cms``, and with which role."""

    label: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


class ActionError(Exception):
    """A refused action; ``status`` is its HTTP status, ``fields`` the fields at fault."""

    status = 400

    def __init__(self, message: str, fields: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.fields = list(fields)


class Invalid(ActionError):
    status = 422


class NotFound(ActionError):
    status = 404


class Conflict(ActionError):
    status = 409


class Forbidden(ActionError):
    status = 403


# What an ``IngestError`` message (after "story: ") starts with → the field it is about.
_FIELD_OF = (
    ("the story has no title", "title"),
    ("the title", "title"),
    ("the story has no body", "body"),
    ("publish time", "publish_at"),
    ("--url", "url"),
)
_FIRST_WORD = re.compile(r"^([a-z_]+)\b")


def field_of(message: str) -> str:
    """The story field an ingest refusal names (``story`` when it names none)."""
    for start, name in _FIELD_OF:
        if message.startswith(start):
            return name
    found = _FIRST_WORD.match(message)
    if found and found.group(1) in ingest.KNOWN_KEYS:
        return {"lang": "language", "date": "publish_at"}.get(found.group(1), found.group(1))
    return "story"


def _invalid(exc: errors.IngestError, name: str) -> Invalid:
    problems = []
    for line in str(exc).splitlines():
        message = line.removeprefix(f"{name}: ")
        problems.append((field_of(message), message))
    return Invalid(problems[0][1] if problems else str(exc), problems)


@dataclass(frozen=True, slots=True)
class Drafted:
    draft: ArticleDraft
    language_detected: bool


@dataclass(frozen=True, slots=True)
class StoryView:
    """A story and, per configured channel, its delivery (or why it has none)."""

    article: Article
    deliveries: dict[str, Delivery]
    held: dict[str, str]  # channel → the filter that keeps the story from it


def badge(view: StoryView, channel: str) -> str:
    """The story's state on ``channel``, in one word."""
    delivery = view.deliveries.get(channel)
    if delivery is None:
        if channel in view.held:
            return "filtered"
        if view.article.status == ArticleStatus.RETRACTED:
            return "cancelled"
        return "waiting" if view.article.status == ArticleStatus.QUEUED else "none"
    status = delivery.status
    if status == DeliveryStatus.PENDING:
        if delivery.operation == Operation.EDIT:
            return "editing"
        if delivery.operation == Operation.DELETE:
            return "deleting"
        return "retrying" if delivery.attempts else "waiting"
    return str(status)


class Newsroom:
    """The editorial actions, on the web service's store and configuration."""

    def __init__(self, context: WebContext) -> None:
        self.context = context
        self.app = context.app
        self.store = context.store

    def options(self, **given: Any) -> ingest.IngestOptions:
        return editorial.options_for(self.app, self.store, **given)

    def post_url(self, channel: str, ref: Mapping[str, Any]) -> str | None:
        """The address of the post ``ref`` on ``channel``'s platform, None where it has none."""
        config = next((c for c in self.app.channels if c.name == channel), None)
        if config is None:
            return None
        links = registry.post_links(config, [ref])
        return links[0] if links else None

    def story_channels(self) -> list[str]:
        return [
            c.name for c in self.app.channels if c.enabled and c.name != self.app.alerts.channel
        ]

    # -- reading a story --------------------------------------------------------------------

    async def draft(self, fields: Mapping[str, Any], name: str = "story") -> Drafted:
        """The story in ``fields`` (queue's JSON keys), its language detected when not given."""
        clean = {k: v for k, v in fields.items() if v is not None and v != ""}
        follow_up_of = await self.follow_up(clean.pop("follow_up_of", None))
        try:
            parsed = ingest.read_fields(clean, self.options(follow_up_of=follow_up_of), name)
        except errors.IngestError as exc:
            raise _invalid(exc, name) from None
        draft = await editorial.with_language(parsed)
        return Drafted(draft, not parsed.language_given)

    async def follow_up(self, raw: object) -> int | None:
        """The id of the story a new one follows up (None: none), refused unless it exists."""
        if raw is None or raw == "":
            return None
        text = str(raw).strip()
        if isinstance(raw, bool) or not text.isdecimal() or not 1 <= int(text) < 2**31:
            message = "follow_up_of: a story's number, like 42"
            raise Invalid(message, [("follow_up_of", "a story's number, like 42")])
        article_id = int(text)
        if not await editorial.follow_up_exists(self.store, article_id):
            message = f"no story #{article_id} to follow up"
            raise Invalid(f"follow_up_of: {message}", [("follow_up_of", message)])
        return article_id

    async def draft_from_file(self, filename: str, content: bytes) -> Drafted:
        """The one story of an uploaded file, in any format ``queue`` reads."""
        suffix = Path(filename).suffix.lower()[:12] or ".txt"
        name = Path(filename).name[:200] or "upload"
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"story{suffix}"
            path.write_bytes(content)
            try:
                found = ingest.read_stories(path, self.options())
            except errors.IngestError as exc:
                raise Invalid(str(exc).replace(str(path), name), [("file", str(exc))]) from None
        if found.problems or len(found.stories) != 1:
            why = "; ".join(found.problems) or "the file must hold exactly one story"
            why = why.replace(str(path), name)
            raise Invalid(why, [("file", why)])
        item = found.stories[0]
        return Drafted(await editorial.with_language(item), not item.language_given)

    async def draft_from_url(self, url: str) -> Drafted:
        from distributor import extract
        from distributor.feeds.fetch import FeedClient

        async with FeedClient(clock=self.store.clock) as client:
            try:
                draft = await extract.draft_from_url(url, client, self.options())
            except errors.IngestError as exc:
                raise Invalid(str(exc), [("article_url", str(exc))]) from None
        return Drafted(draft, True)

    def preview(self, draft: ArticleDraft) -> list[ChannelPreview]:
        return preview_story(self.app, self.context.renderer, draft, self.store.clock())

    # -- stories ----------------------------------------------------------------------------

    async def create(self, actor: Actor, drafted: Drafted) -> tuple[int, bool]:
        """Queue a story once; the same id, URL or text again returns the first (False)."""
        queued = await self.add(actor, drafted)
        return queued.article_id, queued.created

    async def add(self, actor: Actor, drafted: Drafted) -> Queued:
        """``create``, with the new row. The story, its audit entry and the workers' wake-up
        share one transaction: one commit per story, the API's hot path."""

        async def audited(conn: AsyncConnection, article: Article) -> None:
            await audit.add(
                conn, self.store, actor.label, "queue",
                article_id=article.id, detail=drafted.draft.title, notify=True,
            )  # fmt: skip

        return await self.store.add_article(drafted.draft, then=audited)

    async def view(self, article_id: int) -> StoryView:
        views = await self.views([article_id])
        if not views:
            raise NotFound(f"story #{article_id} does not exist")
        return views[0]

    async def views(self, ids: Sequence[int]) -> list[StoryView]:
        articles = await self.store.articles(list(ids))
        deliveries = await self.store.deliveries_for(list(articles))
        by_article: dict[int, dict[str, Delivery]] = {}
        for delivery in deliveries:
            by_article.setdefault(delivery.article_id, {})[delivery.channel] = delivery
        views = []
        for article_id in ids:
            article = articles.get(article_id)
            if article is not None:
                views.append(self.view_of(article, by_article.get(article_id, {})))
        return views

    def view_of(self, article: Article, deliveries: dict[str, Delivery]) -> StoryView:
        """The story's view from rows already read (a new story has no deliveries yet)."""
        held = {}
        story_channels = self.story_channels()
        for channel in self.app.channels:
            if channel.name in deliveries or channel.name not in story_channels:
                continue
            reason = excluded_by(channel.filters, article.tags, article.language, article.priority)
            if reason is not None:
                held[channel.name] = reason
        return StoryView(article, deliveries, held)

    async def search(
        self,
        *,
        query: str | None = None,
        status: str | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> tuple[list[StoryView], int | None]:
        """Newest first; returns the page and the id to continue before (None at the end).

        ``status``: queued, routed, retracted, or ``attention`` (a delivery failed, is dead
        or is being retried).
        """
        limit = max(1, min(limit, MAX_PAGE))
        stmt = select(Article.id).order_by(Article.id.desc()).limit(limit + 1)
        if before is not None:
            stmt = stmt.where(Article.id < before)
        if query:
            pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            stmt = stmt.where(
                or_(
                    func.lower(Article.title).like(pattern.lower() + "%", escape="\\"),
                    Article.url == query,
                    Article.external_id == query,
                )
            )
        if status == "attention":
            troubled = select(Delivery.article_id).where(
                or_(
                    Delivery.status.in_([DeliveryStatus.FAILED, DeliveryStatus.DEAD]),
                    (Delivery.status == DeliveryStatus.PENDING) & (Delivery.attempts > 0),
                )
            )
            stmt = stmt.where(Article.id.in_(troubled))
        elif status:
            try:
                stmt = stmt.where(Article.status == ArticleStatus(status))
            except ValueError:
                raise Invalid(
                    f"status {status!r}: use queued, routed, retracted or attention",
                    [("status", "unknown status")],
                ) from None
        async with self.store.session() as session:
            ids = list(await session.scalars(stmt))
        more = len(ids) > limit
        ids = ids[:limit]
        return await self.views(ids), (ids[-1] if more and ids else None)

    # -- actions ----------------------------------------------------------------------------

    async def correct(
        self, actor: Actor, article_id: int, drafted: Drafted, notice: str | None = None
    ) -> int:
        """Store a new version; ``notice`` (``silent`` | ``note``, None: the configured one)
        is how the edited posts tell readers."""
        if notice is not None and notice not in CORRECTION_NOTICES:
            raise Invalid(
                f"notice: must be one of {', '.join(CORRECTION_NOTICES)}",
                [("notice", f"must be one of {', '.join(CORRECTION_NOTICES)}")],
            )
        await self.view(article_id)
        try:
            edits = await Ledger(self.store).correct(article_id, drafted.draft, notice=notice)
        except ValueError as exc:
            raise Conflict(str(exc)) from None
        chosen = notice or self.app.corrections.notice
        await audit.record(
            self.store,
            actor.label,
            "correct",
            article_id=article_id,
            detail=f"{drafted.draft.title} (notice: {chosen})",
            notify=True,
        )
        return edits

    async def retract(self, actor: Actor, article_id: int) -> int:
        view = await self.view(article_id)
        if view.article.status == ArticleStatus.RETRACTED:
            raise Conflict(f"story #{article_id} was already retracted")
        deletes = await Ledger(self.store).retract(article_id)
        await audit.record(self.store, actor.label, "retract", article_id=article_id, notify=True)
        return deletes

    async def retry(self, actor: Actor, article_id: int, channel: str | None = None) -> int:
        await self.view(article_id)
        if channel is not None and channel not in {c.name for c in self.app.channels}:
            raise Invalid(f"no channel named {channel!r}", [("channel", "unknown channel")])
        count = await Ledger(self.store).requeue(article_id=article_id, channel=channel)
        await audit.record(
            self.store,
            actor.label,
            "retry",
            article_id=article_id,
            detail=channel or "",
            notify=True,
        )
        return count

    async def cancel(self, actor: Actor, article_id: int) -> int:
        """Withdraw a story none of whose posts has gone out (else: retract it)."""
        view = await self.view(article_id)
        if view.article.status == ArticleStatus.RETRACTED:
            raise Conflict(f"story #{article_id} was already withdrawn")
        started = [
            d.channel
            for d in view.deliveries.values()
            if d.refs or d.status in (DeliveryStatus.SENT, DeliveryStatus.SENDING)
        ]
        if started:
            raise Conflict(
                f"story #{article_id} has gone out on {', '.join(sorted(started))}; retract it"
            )
        await Ledger(self.store).retract(article_id)
        await audit.record(self.store, actor.label, "cancel", article_id=article_id)
        return len(view.deliveries)

    async def reschedule(self, actor: Actor, article_id: int, when: str) -> tuple[str, ...]:
        await self.view(article_id)
        try:
            at = parse_when(when, now=self.store.clock(), zone=self.app.zone)
        except ValueError as exc:
            raise Invalid(f"publish time: {exc}", [("publish_at", str(exc))]) from None
        revised = await unsent.revise_unsent(self.store, article_id, unsent.Changes(publish_at=at))
        if revised.refused:
            raise Conflict(revised.refused.replace("`distributor correct`", "correct"))
        await audit.record(
            self.store,
            actor.label,
            "reschedule",
            article_id=article_id,
            detail="; ".join(revised.changed),
            notify=True,
        )
        return revised.changed

    # -- channels (admins) ------------------------------------------------------------------

    def _channel(self, actor: Actor, name: str) -> None:
        if not actor.is_admin:
            raise Forbidden("only admins pause and resume channels")
        if name not in {c.name for c in self.app.channels}:
            raise NotFound(f"no channel named {name!r}")

    async def pause(self, actor: Actor, name: str, reason: str) -> bool:
        self._channel(actor, name)
        reason = reason.strip()[:500] or f"paused by {actor.label}"
        # The same event a failure's pause announces, saying who paused it rather than which
        # delivery failed.
        notice = Notice("channel.paused", {"channel": name, "reason": reason, "actor": actor.label})
        done = await self.store.pause_channel(name, reason, notice)
        await audit.record(self.store, actor.label, "pause", detail=f"{name}: {reason}")
        return done

    async def resume(self, actor: Actor, name: str) -> bool:
        self._channel(actor, name)
        notice = Notice("channel.resumed", {"channel": name, "actor": actor.label})
        done = await self.store.resume_channel(name, notice)
        await audit.record(self.store, actor.label, "resume", detail=name, notify=True)
        return done


def with_changes(drafted: Drafted, **changes: Any) -> Drafted:
    return Drafted(dataclasses.replace(drafted.draft, **changes), drafted.language_detected)
