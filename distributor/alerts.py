"""Tell the admins when a channel is paused or a delivery dies, on a channel of their choice."""

from __future__ import annotations

import itertools
import logging
import time

from distributor import labels
from distributor.adapter import ChannelAdapter
from distributor.clock import Clock
from distributor.logs import REDACTOR
from distributor.send_context import SendContext
from distributor.types import ArticleView, DeliveryTicket

log = logging.getLogger("distributor.alerts")


class Alerter:
    """Posts alerts through the configured alerts channel; never raises, always logs."""

    def __init__(self, adapter: ChannelAdapter | None, clock: Clock) -> None:
        self.adapter = adapter
        self.clock = clock
        self.sent: list[str] = []
        # Unique, stable-per-alert ids keep idempotent transports (Discord nonce) from
        # folding two different alerts into one.
        self._ids = itertools.count(int(time.time() * 1000) % 10**12)

    async def notify(self, title: str, detail: str) -> None:
        detail = REDACTOR.scrub(detail)
        log.warning("%s: %s", title, detail)
        if self.adapter is None:
            return
        now = self.clock()
        view = ArticleView(
            id=0,
            version=1,
            title=f"⚠ {title}",
            url=None,
            image=None,
            language="en",
            tags=("alert",),
            priority=0,
            published_at=now,
            lead=(detail,),
            promo=None,
            labels=labels.labels_for("en", {}),
            summary_max_chars=None,
        )
        alert_id = next(self._ids)
        ticket = DeliveryTicket(
            delivery_id=alert_id,
            article_id=0,
            channel=self.adapter.config.name,
            version=1,
            attempt=1,
            extra={"title": f"alert {alert_id} {title}"},
        )
        try:
            # No hook: an alert is not a delivery, so nothing in the ledger marks it started.
            await self.adapter.send(self.adapter.builder.render(view), SendContext(ticket))
        except Exception as exc:  # an alert must never take the dispatcher down
            log.warning("could not post the alert to %r: %s", self.adapter.config.name, exc)
        else:
            self.sent.append(title)
