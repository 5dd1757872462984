"""A configured email channel around a real SMTP server, and the few steps tests repeat."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distributor import article_views
from distributor.adapter import AdapterContext, ProgressSink
from distributor.configload import LoadedConfig
from distributor.ledger import Ledger
from distributor.pacing import Pacer
from distributor.send_context import SendContext
from distributor.store import Store
from distributor.types import DeliveryTicket, RenderedMessage
from distributor_channels.email import confirmqueue
from distributor_channels.email.adapter import EmailAdapter
from distributor_channels.email.config import EmailChannelConfig
from distributor_channels.email.models import SubscriberStatus
from distributor_channels.email.payload import EmailPayloads
from distributor_channels.email.subscribers import Subscribers, Wanted
from tests.conftest import FakeClock
from tests.fakes.smtp import FakeSMTP
from tests.helpers import draft, write_config

SECRET = "test-web-secret-4d1c8e0f5b7a9c2e31"
BASE_URL = "https://news.example.org"


def email_config(
    store_url: str, tmp_path: Path, server: FakeSMTP | None, **channel: Any
) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "name": "newsletter",
        "platform": "email",
        "list": "daily",
        "list_title": "Daily News",
        "from_address": "Daily News <news@news.example.org>",
        "connections": 3,
        "rate_per_second": 100000,
        "topics": ["politics", "sport", "culture"],
    }
    if server is not None:
        settings["smtp"] = {"host": server.host, "port": server.port, "security": "none"}
    settings.update(channel)
    return {
        "version": 1,
        "store": {"url": store_url},
        "outbox_dir": str(tmp_path / "outbox"),
        "web": {"base_url": BASE_URL, "secret": SECRET},
        "channels": [settings],
    }


@dataclass
class Progress:
    """A progress sink that remembers every update."""

    updates: list[tuple[str, str, int, int]] = field(default_factory=list)

    def update(self, channel: str, key: str, done: int, total: int) -> None:
        self.updates.append((channel, key, done, total))


@dataclass
class World:
    loaded: LoadedConfig
    store: Store
    smtp: FakeSMTP
    clock: FakeClock
    pacer: Pacer
    tmp_path: Path

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        store: Store,
        store_url: str,
        server: FakeSMTP,
        clock: FakeClock,
        tmp_path: Path,
        **channel: Any,
    ) -> AsyncIterator[World]:
        loaded = write_config(tmp_path, email_config(store_url, tmp_path, server, **channel))
        pacer = Pacer()
        try:
            yield cls(loaded, store, server, clock, pacer, tmp_path)
        finally:
            await pacer.aclose()

    @property
    def channel(self) -> EmailChannelConfig:
        channel = self.loaded.app.channels[0]
        assert isinstance(channel, EmailChannelConfig)
        return channel

    def context(self, progress: ProgressSink | None = None) -> AdapterContext:
        return AdapterContext(
            app=self.loaded.app,
            renderer=self.loaded.renderer(),
            clock=self.clock,
            outbox_dir=self.tmp_path / "outbox",
            pacer=self.pacer,
            store=self.store,
            progress=progress,
        )

    async def send_confirmations(self) -> int:
        """What a worker's background tick does: mail the queued confirmation emails."""
        work = confirmqueue.background(self.context(), "test-worker", dry_run=False)
        assert work is not None
        return await work.run_due()

    def adapter(self, progress: ProgressSink | None = None, **changes: Any) -> EmailAdapter:
        channel = self.channel.model_copy(update=changes) if changes else self.channel
        context = self.context(progress)
        return EmailAdapter(channel, EmailPayloads(channel, context.renderer), context)

    async def subscribe(
        self,
        *addresses: str,
        topics: Sequence[str] = (),
        status: str = SubscriberStatus.CONFIRMED,
        list_name: str = "daily",
    ) -> dict[str, int]:
        """Add readers to the list; returns their subscriber ids."""
        rows = [Wanted(a, list(topics), status) for a in addresses]
        book = Subscribers(self.store)
        done = await book.upsert(list_name, rows, source="test", reopen=True)
        return {u.subscriber.address: u.subscriber.id for u in done}

    async def story(
        self, n: int = 1, *, tags: Sequence[str] = (), title: str | None = None
    ) -> tuple[RenderedMessage, SendContext]:
        """Queue and route a story; its rendered newsletter and the delivery's send context."""
        queued = await self.store.add_article(
            draft(n, publish_at=self.clock(), tags=tuple(tags), title=title)
        )
        await Ledger(self.store).route_due(self.loaded.app.channels)
        article = await self.store.get_article(queued.article_id)
        assert article is not None
        (delivery,) = await self.store.deliveries_for([article.id])
        view = article_views.article_view(
            article, self.channel, self.loaded.app, article_views.lead_cache(self.loaded.app)
        )
        message = EmailPayloads(self.channel, self.loaded.renderer()).render(view)
        ticket = DeliveryTicket(
            delivery_id=delivery.id,
            article_id=article.id,
            channel=delivery.channel,
            version=article.version,
            attempt=1,
        )
        return message, SendContext(ticket)
