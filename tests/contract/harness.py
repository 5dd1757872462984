"""What the contract suite needs of each platform: its adapter, its fake, and a few levers.

A ``Platform`` declares, before anything runs, what its adapter promises (so tests that do
not apply are filtered out at collection, with the reason); its ``open`` yields a started
``Harness``: the adapter wired to a fake, a view of what the fake stored, and ways to script
failures. Adapter calls go through the harness so that each gets a fresh ``SendContext``, as
the dispatcher gives one per call, and the fake can see which context a request belongs to.
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web

from distributor import adapter_factory, errors, labels
from distributor.adapter import AdapterContext, ChannelAdapter
from distributor.config import AppConfig, ChannelConfig
from distributor.pacing import Pacer
from distributor.rendering import Renderer
from distributor.send_context import Hook, SendContext
from distributor.types import ArticleView, DeliveryTicket, MessageRef, RenderedMessage, SendResult
from tests.conftest import FakeClock
from tests.fakes.server import Served

PUBLISHED = datetime(2026, 11, 29, 8, 30, tzinfo=UTC)


@dataclass(frozen=True)
class Env:
    """What every harness is built from (the test's fixtures)."""

    tmp_path: Path
    clock: FakeClock
    pacer: Pacer


@dataclass(frozen=True)
class Story:
    """A story rendered for the platform, and the delivery it is posted under."""

    title: str
    message: RenderedMessage
    ticket: DeliveryTicket


@dataclass(frozen=True)
class Platform:
    """An adapter+fake pair and what its adapter declares.

    Attributes:
        id: The test id.
        open: Yields a started harness.
        idempotent, supports_edit, supports_delete: What the adapter says of itself
            (checked against the adapter by the suite).
        missing_delete: What deleting a post that is gone raises; None when it succeeds.
        throttled: What a scripted "slow down" answer raises; None when the transport has none.
        credentials: Whether the transport has credentials that can be wrong.
        marks: pytest marks for every test of this platform.
    """

    id: str
    open: Callable[[Env], AbstractAsyncContextManager[Harness]]
    idempotent: bool
    supports_edit: bool = True
    supports_delete: bool = True
    missing_delete: type[errors.DeliveryError] | None = errors.MessageNotFound
    throttled: type[errors.TransientDeliveryError] | None = errors.RateLimited
    credentials: bool = True
    marks: Sequence[pytest.MarkDecorator] = field(default_factory=tuple)


def view(article_id: int, title: str, *, version: int = 1) -> ArticleView:
    """An article as the dispatcher hands it to a payload builder."""
    return ArticleView(
        id=article_id,
        version=version,
        title=title,
        url=f"https://news.example.org/story-{article_id}",
        image=None,
        language="en",
        tags=(),
        priority=0,
        published_at=PUBLISHED,
        lead=("The first sentence of the story.", "A second one."),
        promo=None,
        labels=labels.labels_for("en", {}),
    )


class Harness(ABC):
    """One started adapter and the fake behind it.

    Attributes:
        adapter: The adapter under test (set by the platform's ``open``).
        platform: What the adapter declares (set by the ``harness`` fixture).
        hook: Given to every ``SendContext`` made from now on (None: contexts only record).
        contexts: Every context handed to the adapter, in order.
    """

    adapter: ChannelAdapter
    platform: Platform

    def __init__(self, env: Env) -> None:
        self.env = env
        self.hook: Hook | None = None
        self.contexts: list[SendContext] = []
        self._ids = itertools.count(1)
        self._opened: list[ChannelAdapter] = []

    # -- adapters ----------------------------------------------------------------------------

    def core(self, channel: ChannelConfig) -> AdapterContext:
        """What the core hands an adapter of ``channel``."""
        return AdapterContext(
            app=AppConfig(version=1, channels=(channel,)),
            renderer=Renderer(),
            clock=self.env.clock,
            outbox_dir=self.env.tmp_path / "outbox",
            pacer=self.env.pacer,
        )

    async def opened(self, adapter: ChannelAdapter) -> ChannelAdapter:
        """Start ``adapter``; ``aclose`` closes it."""
        await adapter.start()
        self._opened.append(adapter)
        return adapter

    async def build(self, channel: ChannelConfig) -> ChannelAdapter:
        """The adapter the service would build for ``channel`` (the outbox if dry-run), started."""
        return await self.opened(adapter_factory.build_adapter(channel, self.core(channel)))

    async def aclose(self) -> None:
        for adapter in self._opened:
            await adapter.aclose()

    # -- stories and calls -------------------------------------------------------------------

    async def story(self, title: str) -> Story:
        """A new story for this channel, with a delivery of its own."""
        n = next(self._ids)
        ticket = DeliveryTicket(n, n, self.adapter.config.name, 1, 1, {"title": title})
        return Story(title, self.adapter.builder.render(view(n, title)), ticket)

    def correction(self, story: Story, title: str) -> Story:
        """The same story, retitled, as its next version."""
        old = story.ticket
        ticket = DeliveryTicket(
            old.delivery_id, old.article_id, old.channel, old.version + 1, 1, {"title": title}
        )
        message = self.adapter.builder.render(view(old.article_id, title, version=ticket.version))
        return Story(title, message, ticket)

    def context(self, story: Story) -> SendContext:
        """A fresh context for one adapter call, as the dispatcher makes one per call."""
        context = SendContext(story.ticket, self.hook)
        self.contexts.append(context)
        return context

    async def send(self, story: Story, adapter: ChannelAdapter | None = None) -> SendResult:
        return await (adapter or self.adapter).send(story.message, self.context(story))

    async def edit(self, refs: Sequence[MessageRef], story: Story) -> SendResult:
        return await self.adapter.edit(refs, story.message, self.context(story))

    async def delete(self, refs: Sequence[MessageRef], story: Story) -> None:
        await self.adapter.delete(refs, self.context(story))

    @property
    def active(self) -> SendContext | None:
        """The context of the call in progress (the last one handed out)."""
        return self.contexts[-1] if self.contexts else None

    # -- what the fake holds -----------------------------------------------------------------

    @abstractmethod
    def text(self, refs: Sequence[MessageRef]) -> str | None:
        """What readers see of the post ``refs`` name; None once it is gone."""

    @abstractmethod
    def post_count(self) -> int:
        """How many posts the fake holds."""

    # -- levers (only where the platform declares them) --------------------------------------

    def script_throttle(self, retry_after: int) -> None:
        """Make the next post be answered "slow down, retry after ``retry_after`` s"."""
        raise NotImplementedError

    async def with_bad_credentials(self) -> ChannelAdapter:
        """A second, started adapter on the same fake whose credentials are refused."""
        raise NotImplementedError

    def watch_posting(self) -> list[bool]:
        """From now on, whether the active context had started when each request that may
        post arrived at the fake (recorded from inside the fake's request handling)."""
        raise NotImplementedError


class HttpHarness(Harness):
    """A harness whose fake is an HTTP server: it can watch requests arrive."""

    fake: Served

    def is_posting(self, request: web.Request) -> bool:
        """Whether ``request`` may change something on the platform."""
        return request.method != "GET"

    def watch_posting(self) -> list[bool]:
        seen: list[bool] = []

        def arrived(request: web.Request) -> None:
            if self.is_posting(request):
                active = self.active
                seen.append(active is not None and active.started)

        self.fake.on_arrival(arrived)
        return seen
