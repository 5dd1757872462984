"""Configuration keys, the process-wide API root, and what ``start`` does (and does not)."""

from __future__ import annotations

import discord.http
import pytest
from pydantic import ValidationError

from distributor import errors
from distributor_channels.discord import apibase
from distributor_channels.discord.config import DiscordChannelConfig
from tests.discord.conftest import OpenAdapter, article, channel_config, render, send_context
from tests.fakes.discord_api import FakeDiscordAPI

SHIPPED_BASE = "https://discord.com/api/v10"


def problems(**data: object) -> str:
    with pytest.raises(ValidationError) as caught:
        DiscordChannelConfig.model_validate({"name": "news", "platform": "discord", **data})
    return str(caught.value)


def test_config_refuses_what_discord_would_refuse_later() -> None:
    token = {"mode": "bot", "token": "t", "channel_id": 1}
    assert "thread_id, username: webhook mode only" in problems(
        **token, thread_id=5, username="Desk"
    )
    assert "bot mode needs token" in problems(mode="bot", channel_id=1)
    assert "webhook_url must look like" in problems(webhook_url="https://evil.example/hook")
    assert "footer must be at most 2048" in problems(**token, footer="😀" * 1025)
    assert "source_name must be at most 256" in problems(**token, source_name="😀" * 129)
    assert "api_base_url must be an http(s) URL" in problems(**token, api_base_url="proxy:8080")
    assert "less than or equal to 50" in problems(**token, requests_per_second=60)
    ok = DiscordChannelConfig.model_validate(
        {"name": "n", "platform": "discord", **token, "api_base_url": "http://proxy:8080/api/v10/"}
    )
    assert ok.api_base_url == "http://proxy:8080/api/v10"


async def test_api_base_url_points_discord_py_while_the_channel_runs(
    fake: FakeDiscordAPI, open_adapter: OpenAdapter
) -> None:
    discord.http.Route.BASE = SHIPPED_BASE  # as if no test fixture had redirected it
    adapter = await open_adapter("webhook")
    assert fake.api_base == discord.http.Route.BASE
    await adapter.send(render(adapter, article()), send_context())
    assert len(fake.all_messages()) == 1
    await adapter.aclose()
    assert discord.http.Route.BASE == SHIPPED_BASE


async def test_two_api_roots_in_one_process_are_refused(
    fake: FakeDiscordAPI, open_adapter: OpenAdapter
) -> None:
    await open_adapter("bot")
    elsewhere = "http://127.0.0.1:9/api/v10"
    with pytest.raises(errors.ConfigError, match="one API root per process"):
        await open_adapter("webhook", api_base_url=elsewhere)
    other = channel_config(fake, "webhook", name="other", api_base_url=None)
    with pytest.raises(errors.ConfigError, match="disagree on api_base_url"):
        await open_adapter("bot", others=(other,))
    assert fake.requests == []


async def test_release_restores_the_root_only_after_the_last_claim(
    fake: FakeDiscordAPI,
) -> None:
    first, second = object(), object()
    discord.http.Route.BASE = SHIPPED_BASE
    apibase.claim(first, fake.api_base, "a")
    apibase.claim(second, fake.api_base, "b")
    apibase.release(first)
    assert fake.api_base == discord.http.Route.BASE
    apibase.release(second)
    assert discord.http.Route.BASE == SHIPPED_BASE
