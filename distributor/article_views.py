"""Build what a payload builder sees of an article, for one channel."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from distributor import labels, summary
from distributor.config import AppConfig, ChannelConfig
from distributor.models import Article
from distributor.types import ArticleView, Promo, PromoLink

# C0 controls and DEL: a BEL or an escape sequence in a title would reach the Telegram text, the
# Discord embed and the raw Subject header.
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def printable(text: str) -> str:
    """``text`` on one line, control characters removed (tabs and line breaks become spaces)."""
    return " ".join(_CONTROLS.sub("", text).split())


def promo_for(app: AppConfig, channel: str, language: str) -> Promo | None:
    """The invitation, linking every channel but the one it is posted to."""
    if app.promo is None:
        return None
    links = tuple(
        PromoLink(label=link.label, url=link.url, channel=link.channel)
        for link in app.promo.links
        if link.channel != channel
    )
    if not links:
        return None
    return Promo(text=app.promo.text_for(language), links=links)


def lead_cache(app: AppConfig) -> Callable[[Article], tuple[str, ...]]:
    """Sentences per (article, version), computed once however many channels render them."""

    @lru_cache(maxsize=512)
    def lead(
        _id: int, _version: int, standfirst: str | None, body: str, fmt: str, language: str
    ) -> tuple[str, ...]:
        return summary.lead_sentences(
            standfirst=standfirst,
            body=body,
            body_format=fmt,
            language=language,
            boilerplate=app.summary.boilerplate,
        )

    def for_article(article: Article) -> tuple[str, ...]:
        sentences = lead(
            article.id,
            article.version,
            article.standfirst,
            article.body,
            article.body_format,
            article.language,
        )
        return tuple(cleaned for s in sentences if (cleaned := printable(s)))

    return for_article


def article_view(
    article: Article,
    channel: ChannelConfig,
    app: AppConfig,
    lead: Callable[[Article], tuple[str, ...]],
) -> ArticleView:
    return ArticleView(
        id=article.id,
        version=article.version,
        title=printable(article.title),
        url=article.url,
        image=article.image,
        language=article.language,
        tags=tuple(article.tags),
        priority=article.priority,
        published_at=article.publish_at,
        lead=lead(article),
        promo=promo_for(app, channel.name, article.language),
        labels=labels.labels_for(article.language, app.labels),
        summary_max_chars=channel.summary_max_chars or app.summary.max_chars,
        label_overrides=app.labels,
    )
