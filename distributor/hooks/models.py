"""The ``hook_events`` table (migration ``0007_hooks``): one row per event per subscriber."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from distributor.models import Base, StrEnumColumn, UTCDateTime


class HookStatus(enum.StrEnum):
    PENDING = "pending"  # due at next_attempt_at
    SENDING = "sending"  # leased by a worker
    SENT = "sent"  # the receiver answered 2xx: never posted again
    DEAD = "dead"  # retries exhausted


class HookEvent(Base):
    __tablename__ = "hook_events"
    __table_args__ = (Index("ix_hook_events_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The Standard Webhooks "webhook-id": the same on every retry, so receivers can dedupe.
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    hook: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[HookStatus] = mapped_column(StrEnumColumn(HookStatus, 16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
