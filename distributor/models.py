"""SQLAlchemy 2.0 typed ORM: articles, deliveries, channel state.

The same schema runs on SQLite (embedded default) and PostgreSQL; Alembic migrations under
``distributor/migrations`` create it. Datetimes are aware UTC in Python whatever the backend.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in Python; ``timestamptz`` on PostgreSQL, naive UTC text on SQLite."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(DateTime(timezone=dialect.name == "postgresql"))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use aware UTC datetimes")
        value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class ArticleStatus(enum.StrEnum):
    QUEUED = "queued"  # waiting for its publish time, not routed yet
    ROUTED = "routed"  # deliveries exist for every matching channel
    RETRACTED = "retracted"


class DeliveryStatus(enum.StrEnum):
    """Where a delivery stands; only ``distributor.ledger`` changes it (see ``delivery_states``)."""

    PENDING = "pending"  # due at next_attempt_at (first try, retry, edit or delete)
    SENDING = "sending"  # claimed under a lease
    SENT = "sent"
    FAILED = "failed"  # the platform rejected it for good
    DEAD = "dead"  # retries exhausted
    SKIPPED = "skipped"  # in doubt after a crash, and the channel's policy is "skip"
    DELETED = "deleted"  # retracted and removed from the platform
    CANCELLED = "cancelled"  # retracted before it was ever sent


# Module level: inside an Enum body these would become members themselves.
ACTIVE: frozenset[DeliveryStatus] = frozenset({DeliveryStatus.PENDING, DeliveryStatus.SENDING})
RETRYABLE: frozenset[DeliveryStatus] = frozenset({DeliveryStatus.FAILED, DeliveryStatus.DEAD})


class Operation(enum.StrEnum):
    SEND = "send"
    EDIT = "edit"
    DELETE = "delete"


E = TypeVar("E", bound=enum.StrEnum)


class StrEnumColumn(TypeDecorator[E]):
    """A ``StrEnum`` in Python, its plain value in a ``VARCHAR`` column.

    The schema is exactly that of ``String(length)`` (no CHECK constraint, no native enum), so
    the migrations do not change; an unknown value read back raises instead of slipping by.
    """

    impl = String
    cache_ok = True

    def __init__(self, enum_type: type[E], length: int) -> None:
        super().__init__(length)
        self.enum_type = enum_type
        self.length = length

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        # Plain ``str`` on the wire: some drivers dump an Enum by its name, not its value.
        return None if value is None else self.enum_type(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        return None if value is None else self.enum_type(value)


class Article(Base):
    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedup_key: Mapped[str] = mapped_column(String(512), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(256))
    title: Mapped[str] = mapped_column(String(500))
    standfirst: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    body_format: Mapped[str] = mapped_column(String(16), default="text")
    url: Mapped[str | None] = mapped_column(String(2048))
    image: Mapped[str | None] = mapped_column(String(2048))
    language: Mapped[str] = mapped_column(String(16))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    publish_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[ArticleStatus] = mapped_column(
        StrEnumColumn(ArticleStatus, 16), default=ArticleStatus.QUEUED
    )
    version: Mapped[int] = mapped_column(Integer, default=1)
    source: Mapped[str | None] = mapped_column(String(512))
    # An update of a developing story: posted as a reply to this article's post, where it went.
    follow_up_of: Mapped[int | None] = mapped_column(
        ForeignKey("articles.id", ondelete="SET NULL"), default=None
    )
    # How the latest correction tells readers: "silent" (posts edited) or "note" (edited with
    # the "Corrected" line, and a correction mail where posts cannot be edited).
    correction_notice: Mapped[str | None] = mapped_column(String(8), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_articles_status_publish_at", "status", "publish_at"),)


class Delivery(Base):
    """One (article, channel) pair; the unique constraint is what makes routing idempotent."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(64))
    status: Mapped[DeliveryStatus] = mapped_column(
        StrEnumColumn(DeliveryStatus, 16), default=DeliveryStatus.PENDING
    )
    operation: Mapped[Operation] = mapped_column(
        StrEnumColumn(Operation, 8), default=Operation.SEND
    )
    priority: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set just before the platform call: a crash after this point leaves the send "in doubt".
    attempt_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    refs: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    version: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # What the latest correction or retraction did on the platform, in words ("edited",
    # "deleted", "withdrawal notice sent to 12 readers", "nothing possible: …").
    outcome: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("article_id", "channel"),
        # Only due work is ever scanned: keep that index small whatever the history holds.
        Index(
            "ix_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index(
            "ix_deliveries_lease",
            "lease_expires_at",
            postgresql_where=text("status = 'sending'"),
            sqlite_where=text("status = 'sending'"),
        ),
        Index("ix_deliveries_channel_status", "channel", "status"),
    )


class DigestStatus(enum.StrEnum):
    PENDING = "pending"  # the window has closed; its digest is due
    SENDING = "sending"  # claimed under a lease
    SENT = "sent"
    EMPTY = "empty"  # nothing in the window and `empty: skip`, or the channel's first window
    FAILED = "failed"  # the platform rejected it for good, or attempts ran out
    IN_DOUBT = "in_doubt"  # may have gone out before a crash; the channel's policy is skip


class DigestRun(Base):
    """One channel's digest for one window: the unique row is what makes it go out once."""

    __tablename__ = "digests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(64))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    window_end: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[DigestStatus] = mapped_column(
        StrEnumColumn(DigestStatus, 16), default=DigestStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    items: Mapped[int] = mapped_column(Integer, default=0)
    refs: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set when an attempt's platform call began, cleared when its outcome is recorded: a row
    # reclaimed with it set may have been posted already (in doubt).
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("channel", "window_start"),
        Index("ix_digests_channel_window_end", "channel", "window_end"),
    )


class ChannelState(Base):
    """What the service learned about a channel at run time: paused, migrated ids…"""

    __tablename__ = "channel_state"

    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    paused: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str | None] = mapped_column(Text)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    data: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


# The feed tables live in their package, on this metadata: import them with the core's so the
# migrations' environment and schema comparisons see every table (the desk's too).
from distributor.desk import models as _desk_models  # noqa: E402, F401
from distributor.feeds import models as _feed_models  # noqa: E402, F401
from distributor.hooks import models as _hook_models  # noqa: E402, F401
