"""Feed tables: each feed's polling state, and every item a feed ever served.

Created by the migration ``0003_feeds``. A feed's row is leased to one worker while it polls
(``lease_owner``/``lease_expires_at``, as deliveries are); ``feed_items`` holds one row per
(feed, item key), and that unique pair is what keeps an item from being queued twice.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from distributor.models import Base, StrEnumColumn, UTCDateTime


class FeedStatus(enum.StrEnum):
    """Where a feed stands; ``state.TRANSITIONS`` says which poll result moves it where."""

    NEW = "new"  # never polled successfully: the first good poll only remembers its items
    OK = "ok"
    FAILING = "failing"  # failed lately, fewer times in a row than the alert threshold
    BROKEN = "broken"  # failed the threshold's number of times in a row; the admins were told


class ItemDisposition(enum.StrEnum):
    """What became of a feed item."""

    REMEMBERED = "remembered"  # seen on the first poll (or beyond the backfill): never queued
    PENDING = "pending"  # to be queued; a crash before it was leaves it here for the next poll
    QUEUED = "queued"  # a story exists for it (``article_id``)


class FeedState(Base):
    __tablename__ = "feeds"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[FeedStatus] = mapped_column(
        StrEnumColumn(FeedStatus, 16), default=FeedStatus.NEW
    )
    etag: Mapped[str | None] = mapped_column(String(512))
    last_modified: Mapped[str | None] = mapped_column(String(128))
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_poll_at: Mapped[datetime] = mapped_column(UTCDateTime())
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    items_seen: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    alerted: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_feeds_next_poll_at", "next_poll_at"),)


class SeenItem(Base):
    __tablename__ = "feed_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    feed: Mapped[str] = mapped_column(ForeignKey("feeds.name", ondelete="CASCADE"))
    item_key: Mapped[str] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(64))
    disposition: Mapped[ItemDisposition] = mapped_column(StrEnumColumn(ItemDisposition, 16))
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("feed", "item_key"),)
