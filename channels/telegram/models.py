"""Telegram's table: the stories it pinned, and when each is to be unpinned.

One row per pinned post. ``unpin_at`` is when the workers' background job unpins it (None: it
stays pinned); the job claims a due row with a lease in one conditional UPDATE, so of several
workers only one unpins it, and a worker that died holding a claim is taken over when the
lease runs out.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from distributor.models import Base, UTCDateTime


class PinStatus:
    PINNED = "pinned"  # pinned on Telegram; unpinned when unpin_at comes (if set)
    UNPINNED = "unpinned"  # unpinned by the job or by a withdrawal (or gone from Telegram)
    FAILED = "failed"  # the unpin was refused for good (rights taken away): last_error says why


class TelegramPin(Base):
    __tablename__ = "telegram_pins"
    __table_args__ = (
        UniqueConstraint("chat", "message_id"),
        Index("ix_telegram_pins_due", "status", "unpin_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The delivery that posted it; no foreign key, so that a pin outlives a purged delivery.
    delivery_id: Mapped[int | None] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(64))
    chat: Mapped[str] = mapped_column(String(64))  # the numeric chat id Telegram answered with
    message_id: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=PinStatus.PINNED)
    pinned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    unpin_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
