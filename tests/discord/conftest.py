"""Discord adapters wired to the fake Discord API: the real discord.py, a real HTTP server.

The fake enforces rate limits, scaled down so a test never waits on Discord's real windows
(5 posts per 5 s per channel): 50 per second per route and per webhook, 50 per second per bot.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pytest
import pytest_asyncio

from distributor import labels
from distributor.adapter import AdapterContext
from distributor.config import AppConfig, ChannelConfig
from distributor.pacing import Pacer
from distributor.rendering import Renderer
from distributor.send_context import SendContext
from distributor.types import ArticleView, DeliveryTicket, RenderedMessage
from distributor_channels.discord.adapter import DiscordAdapter
from distributor_channels.discord.config import DiscordChannelConfig
from distributor_channels.discord.payload import DiscordPayloads
from tests.conftest import FakeClock
from tests.fakes.discord_api import FakeDiscordAPI, RateLimits
from tests.fakes.discord_fixtures import (
    DISCORD_BOT_TOKEN,
    DISCORD_CHANNEL_ID,
    DISCORD_WEBHOOK_URL,
    discord_py_pointed_at,
    populate_default_world,
)

RENDERER = Renderer()
PUBLISHED = datetime(2026, 11, 29, 8, 30, tzinfo=UTC)
LOOSE_LIMITS = RateLimits(
    per_route_limit=50,
    per_route_window=1.0,
    global_per_second=50,
    webhook_limit=50,
    webhook_window=1.0,
)
ROLE_ID = 1187402731185881777


def channel_config(fake: FakeDiscordAPI, mode: str, **overrides: Any) -> DiscordChannelConfig:
    """A live channel of ``mode`` pointed at ``fake`` through ``api_base_url``."""
    data: dict[str, Any] = {
        "name": "news",
        "platform": "discord",
        "mode": mode,
        "api_base_url": fake.api_base,
    }
    if mode == "bot":
        data.update(token=DISCORD_BOT_TOKEN, channel_id=DISCORD_CHANNEL_ID)
    else:
        data.update(webhook_url=DISCORD_WEBHOOK_URL)
    data.update(overrides)
    return DiscordChannelConfig.model_validate(data)


def article(
    *,
    title: str = "Council approves the new bridge",
    lead: tuple[str, ...] = ("The council voted on Monday.", "Works start in spring."),
    priority: int = 0,
    url: str | None = "https://news.example.org/bridge",
    image: str | None = "https://news.example.org/bridge.jpg",
    article_id: int = 7,
    summary_max_chars: int | None = None,
) -> ArticleView:
    return ArticleView(
        id=article_id,
        version=1,
        title=title,
        url=url,
        image=image,
        language="en",
        tags=(),
        priority=priority,
        published_at=PUBLISHED,
        lead=lead,
        promo=None,
        labels=labels.labels_for("en", {}),
        summary_max_chars=summary_max_chars,
    )


def send_context(delivery_id: int = 1, *, article_id: int = 7, version: int = 1) -> SendContext:
    """A delivery's context with no dispatcher behind it (``about_to_send`` only records)."""
    return SendContext(
        DeliveryTicket(
            delivery_id=delivery_id,
            article_id=article_id,
            channel="news",
            version=version,
            attempt=1,
        )
    )


def render(adapter: DiscordAdapter, view: ArticleView) -> RenderedMessage:
    return adapter.builder.render(view)


class OpenAdapter(Protocol):
    def __call__(
        self,
        mode: str = ...,
        *,
        others: tuple[ChannelConfig, ...] = ...,
        **overrides: Any,
    ) -> Awaitable[DiscordAdapter]: ...


async def _started(
    config: DiscordChannelConfig,
    others: tuple[ChannelConfig, ...],
    clock: FakeClock,
    pacer: Pacer,
    outbox: Path,
) -> DiscordAdapter:
    app = AppConfig(version=1, channels=(config, *others))
    context = AdapterContext(
        app=app, renderer=RENDERER, clock=clock, outbox_dir=outbox, pacer=pacer
    )
    adapter = DiscordAdapter(config, DiscordPayloads(config, RENDERER), context)
    await adapter.start()
    return adapter


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeDiscordAPI]:
    """A started fake with the default world and scaled-down but enforced rate limits.

    ``Route.BASE`` is pointed at it too, as a safety net: no test can reach discord.com.
    """
    api = FakeDiscordAPI(rate_limits=LOOSE_LIMITS)
    populate_default_world(api)
    async with api:
        with discord_py_pointed_at(api):
            yield api


@pytest_asyncio.fixture
async def open_adapter(
    fake: FakeDiscordAPI, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[OpenAdapter]:
    """Build and start adapters on the fake; all are closed after the test."""
    pacer = Pacer()
    made: list[DiscordAdapter] = []

    async def make(
        mode: str = "bot", *, others: tuple[ChannelConfig, ...] = (), **overrides: Any
    ) -> DiscordAdapter:
        config = channel_config(fake, mode, **overrides)
        adapter = await _started(config, others, clock, pacer, tmp_path / "outbox")
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        await adapter.aclose()
    await pacer.aclose()


@pytest.fixture(params=["bot", "webhook"])
def mode(request: pytest.FixtureRequest) -> str:
    """Each contract test runs in both modes."""
    value: str = request.param
    return value
