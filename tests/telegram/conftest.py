"""Telegram adapters wired to the fake Bot API server, and article views to post."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from pydantic import SecretStr

from distributor import labels
from distributor.adapter import AdapterContext
from distributor.config import AppConfig
from distributor.pacing import Pacer
from distributor.rendering import Renderer
from distributor.send_context import SendContext
from distributor.store import Store
from distributor.types import ArticleView, DeliveryTicket, Promo, PromoLink
from distributor_channels.telegram.adapter import TelegramAdapter
from distributor_channels.telegram.config import TelegramChannelConfig
from distributor_channels.telegram.payload import TelegramPayloads
from tests.conftest import FakeClock
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_fixtures import TELEGRAM_TOKEN

PHOTO_URL = "https://cdn.example.org/img/story_1.jpg?w=800&h=600"
STORY_URL = "https://news.example.org/2026/11/harbour_strike?utm_source=tg&ref=a_b"
SECRET_HALF = TELEGRAM_TOKEN.split(":", 1)[1]

MakeAdapter = Callable[..., Coroutine[Any, Any, TelegramAdapter]]


def article(
    *,
    title: str = "Harbour workers strike <again> & again",
    lead: tuple[str, ...] = (
        "Dockers walked out at dawn.",
        "Talks with the port authority broke down on Friday.",
    ),
    url: str | None = STORY_URL,
    image: str | None = None,
    article_id: int = 1,
    version: int = 1,
    promo: bool = True,
    summary_max_chars: int | None = 600,
) -> ArticleView:
    """An article as the dispatcher hands it to the payload builder."""
    invitation = Promo(
        text="Join us on our other channels:",
        links=(
            PromoLink("Discord", "https://discord.gg/example"),
            PromoLink("Newsletter", "https://news.example.org/subscribe?list=a&b=c"),
        ),
    )
    return ArticleView(
        id=article_id,
        version=version,
        title=title,
        url=url,
        image=image,
        language="en",
        tags=("port",),
        priority=0,
        published_at=datetime(2026, 11, 29, 8, 0, tzinfo=UTC),
        lead=lead,
        promo=invitation if promo else None,
        labels=labels.labels_for("en", {}),
        summary_max_chars=summary_max_chars,
    )


def send_context(delivery_id: int = 1, article_id: int = 1) -> SendContext:
    """A delivery's context with no dispatcher behind it (``about_to_send`` only records)."""
    return SendContext(
        DeliveryTicket(
            delivery_id=delivery_id, article_id=article_id, channel="tg", version=1, attempt=1
        )
    )


def channel_config(base_url: str, **overrides: Any) -> TelegramChannelConfig:
    """A live Telegram channel pointed at the fake (``chat`` defaults to the fake's channel)."""
    values: dict[str, Any] = {
        "name": "tg",
        "platform": "telegram",
        "token": SecretStr(TELEGRAM_TOKEN),
        "chat": "@newsroom",
        "api_base_url": base_url,
        # Unpaced by default; the pacing tests set their own rates.
        "rates": {
            "per_bot_per_second": 100_000,
            "per_group_per_minute": 100_000,
            "per_chat_per_second": 100_000,
        },
        # Short, so injected timeouts cost little; long enough for a busy 2-CPU machine.
        "timeouts": {"read": 2.0, "connect": 2.0, "write": 2.0, "pool": 2.0},
    }
    values.update(overrides)
    return TelegramChannelConfig.model_validate(values)


@pytest.fixture
def pacer() -> Pacer:
    return Pacer()


@pytest.fixture
def renderer() -> Renderer:
    return Renderer()


@pytest_asyncio.fixture
async def make_adapter(
    telegram_api: FakeTelegramAPI,
    clock: FakeClock,
    pacer: Pacer,
    renderer: Renderer,
    tmp_path: Path,
) -> AsyncIterator[MakeAdapter]:
    """Build and start adapters against the fake; they are closed after the test."""
    opened: list[TelegramAdapter] = []

    async def make(
        *, store: Store | None = None, shared_pacer: Pacer | None = None, **overrides: Any
    ) -> TelegramAdapter:
        config = channel_config(telegram_api.base_url, **overrides)
        context = AdapterContext(
            app=AppConfig(version=1),
            renderer=renderer,
            clock=clock,
            outbox_dir=tmp_path / "outbox",
            pacer=shared_pacer or pacer,
            store=store,
        )
        adapter = TelegramAdapter(config, TelegramPayloads(config, renderer), context)
        await adapter.start()
        opened.append(adapter)
        return adapter

    yield make
    for adapter in opened:
        await adapter.aclose()
    await pacer.aclose()
