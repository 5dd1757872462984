"""What every channel would post for a story, before it is queued (no I/O, no side effects).

Built from the same payload builders that send, through each platform's ``preview``: a preview
can never differ from the post. A channel whose filters refuse the story says which one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from distributor import article_views, errors, registry
from distributor.config import AppConfig, ChannelConfig, Filters
from distributor.models import Article
from distributor.registry import PostPreview
from distributor.rendering import Renderer
from distributor.types import ArticleDraft


@dataclass(frozen=True, slots=True)
class ChannelPreview:
    """One channel's answer: the post it would receive, or why it would receive nothing."""

    channel: str
    platform: str
    post: PostPreview | None = None
    excluded_by: str | None = None
    error: str | None = None


def excluded_by(filters: Filters, tags: Sequence[str], language: str, priority: int) -> str | None:
    """The first filter that refuses a story, in words; None when the channel takes it."""
    tagset = {t.lower() for t in tags}
    if filters.tags and not tagset & {t.lower() for t in filters.tags}:
        return f"filters.tags: needs one of {', '.join(filters.tags)}"
    refused = sorted(tagset & {t.lower() for t in filters.exclude_tags})
    if refused:
        return f"filters.exclude_tags: tagged {', '.join(refused)}"
    if filters.languages and language.lower() not in {x.lower() for x in filters.languages}:
        return f"filters.languages: takes {', '.join(filters.languages)}, not {language}"
    if filters.min_priority is not None and priority < filters.min_priority:
        return f"filters.min_priority: {priority} is below {filters.min_priority}"
    if filters.max_priority is not None and priority > filters.max_priority:
        return f"filters.max_priority: {priority} is above {filters.max_priority}"
    return None


def draft_article(draft: ArticleDraft, now: datetime) -> Article:
    """A transient (never stored) article holding ``draft``, for the payload builders."""
    return Article(
        id=0,
        version=1,
        dedup_key=draft.dedup_key,
        title=draft.title,
        standfirst=draft.standfirst,
        body=draft.body,
        body_format=draft.body_format,
        url=draft.url,
        image=draft.image,
        language=draft.language,
        tags=list(draft.tags),
        priority=draft.priority,
        publish_at=draft.publish_at,
        created_at=now,
        updated_at=now,
    )


def preview_story(
    app: AppConfig,
    renderer: Renderer,
    draft: ArticleDraft,
    now: datetime,
    channels: Sequence[ChannelConfig] | None = None,
) -> list[ChannelPreview]:
    """Each story channel's preview (enabled channels, the alerts channel left out)."""
    article = draft_article(draft, now)
    lead = article_views.lead_cache(app)
    wanted = channels if channels is not None else app.channels
    results: list[ChannelPreview] = []
    for channel in wanted:
        if not channel.enabled or channel.name == app.alerts.channel:
            continue
        reason = excluded_by(channel.filters, draft.tags, draft.language, draft.priority)
        if reason is not None:
            results.append(ChannelPreview(channel.name, channel.platform, excluded_by=reason))
            continue
        spec = registry.get(channel.platform)
        builder = spec.builder(channel, renderer)
        try:
            message = builder.render(article_views.article_view(article, channel, app, lead))
            post = spec.preview(channel, message, builder)
        except errors.TemplateError as exc:
            results.append(ChannelPreview(channel.name, channel.platform, error=str(exc)))
            continue
        results.append(ChannelPreview(channel.name, channel.platform, post=post))
    return results
