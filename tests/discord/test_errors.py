"""Every Discord failure leaves the adapter as the right distributor error, with the reason."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from distributor import errors
from distributor.types import MessageRef, RenderedMessage
from tests.discord.conftest import OpenAdapter, article, render, send_context
from tests.fakes.discord_api import FakeDiscordAPI, RateLimits
from tests.fakes.discord_fixtures import (
    DISCORD_CHANNEL_ID,
    DISCORD_WEBHOOK_ID,
    discord_py_pointed_at,
    populate_default_world,
)
from tests.fakes.discord_models import WEBHOOK_URL_BASE

POST_MESSAGES = "POST /channels/{channel_id}/messages"
EXECUTE_WEBHOOK = "POST /webhooks/{webhook_id}/{webhook_token}"
CREATE = {"bot": POST_MESSAGES, "webhook": EXECUTE_WEBHOOK}


def oversized(message: RenderedMessage) -> RenderedMessage:
    """What a careless custom builder might produce: a description over 4096."""
    embed = {**message.payload["embeds"][0], "description": "x" * 4097}
    return RenderedMessage(payload={**message.payload, "embeds": [embed]}, summary="")


# -- the channel is broken: pause it ----------------------------------------------------------


async def test_unknown_channel(fake: FakeDiscordAPI, open_adapter: OpenAdapter) -> None:
    adapter = await open_adapter("bot")
    fake.remove_channel(DISCORD_CHANNEL_ID)
    with pytest.raises(errors.ChannelBroken) as caught:
        await adapter.send(render(adapter, article()), send_context())
    assert str(caught.value) == (
        "discord channel 'news': send failed: Unknown Channel [code 10003]: "
        "the channel or thread no longer exists (404)"
    )


@pytest.mark.parametrize(
    ("permission", "code", "status"),
    [("bot_can_view", 50001, 403), ("bot_can_send", 50013, 403), ("bot_can_embed", 50013, 403)],
)
async def test_missing_access_and_permissions(
    fake: FakeDiscordAPI, open_adapter: OpenAdapter, permission: str, code: int, status: int
) -> None:
    adapter = await open_adapter("bot")
    fake.set_permissions(DISCORD_CHANNEL_ID, **{permission: False})
    with pytest.raises(errors.ChannelBroken) as caught:
        await adapter.send(render(adapter, article()), send_context())
    assert caught.value.status == status
    assert f"[code {code}]" in caught.value.reason
    assert caught.value.operation == "send"
    assert fake.all_messages() == []


async def test_refused_bot_token(fake: FakeDiscordAPI, open_adapter: OpenAdapter) -> None:
    adapter = await open_adapter("bot", token="MTE4NzQwMjczMTE4NTg4MTA5Mw.GxF4kQ.revoked-token-xyz")
    with pytest.raises(errors.ChannelBroken) as caught:
        await adapter.send(render(adapter, article()), send_context())
    assert str(caught.value) == (
        "discord channel 'news': login failed: the bot token was refused (401)"
    )
    assert fake.count_status(401) == 1


async def test_deleted_webhook(fake: FakeDiscordAPI, open_adapter: OpenAdapter) -> None:
    adapter = await open_adapter("webhook")
    fake.delete_webhook(DISCORD_WEBHOOK_ID)
    with pytest.raises(errors.ChannelBroken) as caught:
        await adapter.send(render(adapter, article()), send_context())
    assert "Unknown Webhook [code 10015]: the webhook was deleted" in str(caught.value)
    assert caught.value.status == 404


async def test_wrong_webhook_token(fake: FakeDiscordAPI, open_adapter: OpenAdapter) -> None:
    url = f"{WEBHOOK_URL_BASE}/{DISCORD_WEBHOOK_ID}/{'W' * 68}"
    adapter = await open_adapter("webhook", webhook_url=url)
    with pytest.raises(errors.ChannelBroken) as caught:
        await adapter.send(render(adapter, article()), send_context())
    assert "Invalid Webhook Token [code 50027]: the webhook URL's token is wrong" in str(
        caught.value
    )
    assert caught.value.status == 401


async def test_webhook_thread_gone(fake: FakeDiscordAPI, open_adapter: OpenAdapter) -> None:
    adapter = await open_adapter("webhook", thread_id=1187402731185889999)
    with pytest.raises(errors.ChannelBroken, match=r"Unknown Channel \[code 10003\]"):
        await adapter.send(render(adapter, article()), send_context())


async def test_wrong_api_base_url_breaks_the_channel(
    fake: FakeDiscordAPI, open_adapter: OpenAdapter, mode: str
) -> None:
    wrong = fake.api_base.replace("/api/v10", "/v10")
    adapter = await open_adapter(mode, api_base_url=wrong)
    with pytest.raises(errors.ChannelBroken, match="check api_base_url") as caught:
        await adapter.send(render(adapter, article()), send_context())
    assert caught.value.status == 404


# -- this message is refused: fail it ---------------------------------------------------------


async def test_invalid_form_body_names_the_field(
    fake: FakeDiscordAPI, open_adapter: OpenAdapter, mode: str
) -> None:
    adapter = await open_adapter(mode)
    with pytest.raises(errors.PermanentDeliveryError) as caught:
        await adapter.send(oversized(render(adapter, article())), send_context())
    assert type(caught.value) is errors.PermanentDeliveryError
    assert caught.value.status == 400
    assert "In embeds.0.description: Must be 4096 or fewer in length." in caught.value.reason
    assert "[code 50035]" in caught.value.reason
    assert fake.all_messages() == []

    sent = await adapter.send(render(adapter, article()), send_context(2))
    with pytest.raises(errors.PermanentDeliveryError, match=r"In embeds\.0\.description"):
        await adapter.edit(sent.refs, oversized(render(adapter, article())), send_context(2))


async def test_editing_someone_elses_post_fails_without_pausing(
    fake: FakeDiscordAPI, open_adapter: OpenAdapter
) -> None:
    """403 50005 is about one message: the code decides, not the status."""
    hook = await open_adapter("webhook")
    sent = await hook.send(render(hook, article()), send_context())
    bot = await open_adapter("bot")
    legacy = MessageRef(target=str(DISCORD_CHANNEL_ID), message_id=sent.refs[0].message_id)
    with pytest.raises(errors.PermanentDeliveryError) as caught:
        await bot.edit([legacy], render(bot, article()), send_context())
    assert not isinstance(caught.value, errors.ChannelBroken)
    assert (caught.value.status, "[code 50005]" in caught.value.reason) == (403, True)


async def test_unusable_payload_is_refused_before_any_request(
    fake: FakeDiscordAPI, open_adapter: OpenAdapter, mode: str
) -> None:
    adapter = await open_adapter(mode)
    broken = RenderedMessage(payload={"embeds": "not a list"}, summary="")
    with pytest.raises(errors.PermanentDeliveryError, match="unusable payload"):
        await adapter.send(broken, send_context())
    assert fake.requests == []


# -- rate limits ---------------------------------------------------------------------------------


async def test_short_429_on_a_post_ends_the_call_not_in_doubt(
    fake: FakeDiscordAPI, open_adapter: OpenAdapter, mode: str
) -> None:
    # discord.py would sleep and resend inside the call, with the delivery marked started.
    adapter = await open_adapter(mode)
    fake.fail_next(route=CREATE[mode], status=429, retry_after=0.05)
    with pytest.raises(errors.RateLimited) as caught:
        await adapter.send(render(adapter, article()), send_context())
    assert (caught.value.retry_after, caught.value.in_doubt) == (0.05, False)
    assert fake.all_messages() == []
    await adapter.send(render(adapter, article()), send_context(2))
    assert len(fake.all_messages()) == 1
    assert fake.count_status(429) == 1


@pytest.mark.parametrize("global_", [False, True])
async def test_long_429_becomes_rate_limited_with_the_fractional_wait(
    fake: FakeDiscordAPI, open_adapter: OpenAdapter, mode: str, global_: bool
) -> None:
    adapter = await open_adapter(mode)
    fake.fail_next(route=CREATE[mode], status=429, retry_after=42.375, global_=global_)
    with pytest.raises(errors.RateLimited) as caught:
        await adapter.send(render(adapter, article()), send_context())
    assert caught.value.retry_after == 42.375
    assert caught.value.status == 429
    assert ("global rate limit" in caught.value.reason) is global_
    assert fake.all_messages() == []
    assert fake.count_status(429) == 1  # reported at once: no worker asleep for 42 s


async def test_max_ratelimit_wait_is_configurable(
    fake: FakeDiscordAPI, open_adapter: OpenAdapter, mode: str
) -> None:
    adapter = await open_adapter(mode, max_ratelimit_wait_seconds=0.5)
    fake.fail_next(route=CREATE[mode], status=429, retry_after=0.75)
    with pytest.raises(errors.RateLimited) as caught:
        await adapter.send(render(adapter, article()), send_context())
    assert caught.value.retry_after == 0.75


@pytest_asyncio.fixture
async def stingy() -> AsyncIterator[FakeDiscordAPI]:
    """One post per channel per two minutes: the bucket outlasts any wait we accept."""
    api = FakeDiscordAPI(rate_limits=RateLimits(per_route_limit=1, per_route_window=120.0))
    populate_default_world(api)
    async with api:
        with discord_py_pointed_at(api):
            yield api


async def test_exhausted_bucket_becomes_rate_limited(
    stingy: FakeDiscordAPI, open_adapter: OpenAdapter
) -> None:
    adapter = await open_adapter("bot", api_base_url=stingy.api_base)
    await adapter.send(render(adapter, article()), send_context(1))
    with pytest.raises(errors.RateLimited) as caught:
        await adapter.send(render(adapter, article()), send_context(2))
    assert 100 < caught.value.retry_after <= 120
    assert len(stingy.all_messages()) == 1


# -- transient: retry later ------------------------------------------------------------------


async def test_server_error_is_reported_at_once_and_in_doubt_for_a_post(
    fake: FakeDiscordAPI, open_adapter: OpenAdapter, mode: str
) -> None:
    adapter = await open_adapter(mode)
    fake.fail_next(route=CREATE[mode], status=502)
    with pytest.raises(errors.TransientDeliveryError) as caught:
        await adapter.send(render(adapter, article()), send_context())
    assert (caught.value.status, caught.value.in_doubt) == (502, True)
    # discord.py would have resent it after 1, 3, 5, 7 and 9 s; the dispatcher retries instead.
    assert [r.route for r in fake.requests].count(CREATE[mode]) == 1
    assert fake.all_messages() == []

    sent = await adapter.send(render(adapter, article()), send_context(2))
    fake.fail_next(route="PATCH", status=500)
    with pytest.raises(errors.TransientDeliveryError) as edit:
        await adapter.edit(sent.refs, render(adapter, article()), send_context(2))
    assert (edit.value.status, edit.value.in_doubt) == (500, False)


async def test_timeout_after_the_request_was_written_is_in_doubt(
    fake: FakeDiscordAPI, open_adapter: OpenAdapter, mode: str
) -> None:
    adapter = await open_adapter(mode, request_timeout_seconds=0.2)
    fake.timeout_next(route=CREATE[mode], seconds=5.0, then_process=False)
    with pytest.raises(errors.TransientDeliveryError) as caught:
        await adapter.send(render(adapter, article()), send_context())
    assert caught.value.in_doubt is True
    assert "timed out waiting for Discord's answer" in str(caught.value)


async def test_dropped_connection_is_in_doubt(
    fake: FakeDiscordAPI, open_adapter: OpenAdapter, mode: str
) -> None:
    adapter = await open_adapter(mode)
    fake.drop_next(route=CREATE[mode], then_process=False)
    with pytest.raises(errors.TransientDeliveryError) as caught:
        await adapter.send(render(adapter, article()), send_context())
    assert caught.value.in_doubt is True
    assert "connection failed: ServerDisconnectedError" in str(caught.value)


async def test_refused_connection_is_not_in_doubt(open_adapter: OpenAdapter, mode: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    adapter = await open_adapter(mode, api_base_url=f"http://127.0.0.1:{port}/api/v10")
    with pytest.raises(errors.TransientDeliveryError) as caught:
        await adapter.send(render(adapter, article()), send_context())
    assert type(caught.value) is errors.TransientDeliveryError
    assert caught.value.in_doubt is False
    assert "cannot connect" in str(caught.value)


async def test_failed_login_is_retried_from_scratch(
    fake: FakeDiscordAPI, open_adapter: OpenAdapter
) -> None:
    adapter = await open_adapter("bot")
    fake.fail_next(route="GET /users/@me", status=503)
    with pytest.raises(errors.TransientDeliveryError, match="login failed"):
        await adapter.send(render(adapter, article()), send_context())
    await adapter.send(render(adapter, article()), send_context())
    assert len(fake.all_messages()) == 1
