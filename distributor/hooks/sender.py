"""Posting queued events to their subscribers, signed the Standard Webhooks way.

Each event is claimed under a lease (two workers never post it at once), posted with the
``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` headers, and recorded: a 2xx
answer makes it ``sent`` for good; anything else (an error status, a timeout, a refused
connection) schedules a retry with exponential backoff and jitter, honouring ``Retry-After``,
until the hook's ``max_attempts`` make it ``dead``. The one window left is a crash between a
2xx and its record: the event is then posted again with the same ``webhook-id``, which is what
the convention gives receivers to drop it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import random
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from distributor.hooks.config import HookConfig, signing_key
from distributor.hooks.models import HookEvent, HookStatus
from distributor.logs import REDACTOR
from distributor.store import Store

log = logging.getLogger("distributor.hooks")

TIMEOUT_SECONDS = 10.0


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,`` and the base64 HMAC-SHA256 of id.timestamp.body."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def body_of(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


class HookSender:
    def __init__(
        self,
        store: Store,
        hooks: Sequence[HookConfig],
        owner: str,
        *,
        backoff_base_seconds: float = 5.0,
        backoff_max_seconds: float = 3600.0,
        lease_seconds: float = 60.0,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.hooks = {hook.name: hook for hook in hooks}
        self.keys = {hook.name: signing_key(hook.secret) for hook in hooks}
        self.owner = owner
        self.base = backoff_base_seconds
        self.cap = backoff_max_seconds
        self.lease = lease_seconds
        self.rng = rng or random.Random()
        self.http = httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def run_due(self, limit: int = 100) -> int:
        """Post every event due now (reaping abandoned leases first); how many were posted."""
        await self._reap()
        events = await self._claim(limit)
        for event in events:
            await self._post(event)
        return len(events)

    async def _reap(self) -> None:
        now = self.store.clock()
        async with self.store.session() as session, session.begin():
            await session.execute(
                update(HookEvent)
                .where(HookEvent.status == HookStatus.SENDING, HookEvent.lease_expires_at < now)
                .values(
                    status=HookStatus.PENDING,
                    lease_owner=None,
                    lease_expires_at=None,
                    next_attempt_at=now,
                    updated_at=now,
                )
            )

    async def _claim(self, limit: int) -> list[HookEvent]:
        now = self.store.clock()
        async with self.store.session() as session, session.begin():
            rows = list(
                (
                    await session.scalars(
                        select(HookEvent)
                        .where(
                            HookEvent.status == HookStatus.PENDING,
                            HookEvent.next_attempt_at <= now,
                            HookEvent.hook.in_(list(self.hooks)),
                        )
                        .order_by(HookEvent.id)
                        .limit(limit)
                        .with_for_update(skip_locked=True)
                    )
                ).all()
            )
            for row in rows:
                row.status = HookStatus.SENDING
                row.lease_owner = self.owner
                row.lease_expires_at = now + timedelta(seconds=self.lease)
                row.updated_at = now
        return rows

    async def _post(self, event: HookEvent) -> None:
        hook = self.hooks[event.hook]
        body = body_of(event.payload)
        timestamp = int(self.store.clock().timestamp())
        headers = {
            "content-type": "application/json",
            "webhook-id": event.message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(self.keys[hook.name], event.message_id, timestamp, body),
        }
        retry_after: float | None = None
        try:
            response = await self.http.post(hook.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        else:
            if 200 <= response.status_code < 300:
                await self._record(event, HookStatus.SENT, None, None)
                return
            error = f"HTTP {response.status_code}"
            header = response.headers.get("retry-after", "")
            retry_after = float(header) if header.isdigit() else None
        error = REDACTOR.scrub(error)[:500]
        attempts = event.attempts + 1
        if attempts >= hook.max_attempts:
            log.warning("hook %s: event %s (%s) is dead: %s", hook.name, event.message_id,
                        event.event, error)  # fmt: skip
            await self._record(event, HookStatus.DEAD, error, None)
            return
        delay = min(self.cap, self.base * 2 ** (attempts - 1))
        delay = delay / 2 + self.rng.uniform(0, delay / 2)  # equal jitter
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.cap))
        at = self.store.clock() + timedelta(seconds=delay)
        await self._record(event, HookStatus.PENDING, error, at)

    async def _record(
        self, event: HookEvent, status: HookStatus, error: str | None, retry_at: datetime | None
    ) -> None:
        now = self.store.clock()
        values: dict[str, Any] = {
            "status": status,
            "lease_owner": None,
            "lease_expires_at": None,
            "last_error": error,
            "updated_at": now,
        }
        if status != HookStatus.SENT:
            values["attempts"] = event.attempts + 1
        if retry_at is not None:
            values["next_attempt_at"] = retry_at
        async with self.store.session() as session, session.begin():
            await session.execute(
                update(HookEvent)
                .where(HookEvent.id == event.id, HookEvent.lease_owner == self.owner)
                .values(**values)
            )
