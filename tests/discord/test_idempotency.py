"""A failed post retried by the dispatcher: exactly one message in bot mode; webhook honesty.

Bot mode sends the delivery's nonce with ``enforce_nonce``, so Discord answers the resend
with the post it already stored. Execute Webhook has no nonce: the adapter cannot know
whether a post that failed in doubt exists, so it reports ``in_doubt`` and the channel's
``in_doubt`` policy decides. What it does guarantee: discord.py never resends on its own.
"""

from __future__ import annotations

import pytest

from distributor import errors
from tests.discord.conftest import OpenAdapter, article, render, send_context
from tests.fakes.discord_api import FakeDiscordAPI

POST_MESSAGES = "POST /channels/{channel_id}/messages"
EXECUTE_WEBHOOK = "POST /webhooks/{webhook_id}/{webhook_token}"


async def fail_once_after_storing(fake: FakeDiscordAPI, route: str, fault: str) -> None:
    if fault == "5xx":
        fake.fail_next(route=route, status=500, then_process=True)
    elif fault == "timeout":
        fake.timeout_next(route=route, seconds=5.0, then_process=True)
    else:
        fake.drop_next(route=route, then_process=True)


@pytest.mark.parametrize("fault", ["5xx", "timeout", "drop"])
async def test_bot_retry_after_a_stored_failure_leaves_one_message(
    fake: FakeDiscordAPI, open_adapter: OpenAdapter, fault: str
) -> None:
    adapter = await open_adapter("bot", request_timeout_seconds=0.3)
    assert adapter.idempotent is True
    message = render(adapter, article())
    await fail_once_after_storing(fake, POST_MESSAGES, fault)
    with pytest.raises(errors.TransientDeliveryError) as caught:
        await adapter.send(message, send_context(1))
    assert caught.value.in_doubt is True
    assert len(fake.all_messages()) == 1  # Discord has it; we do not know that

    retried = await adapter.send(message, send_context(1))  # the dispatcher's next attempt

    [stored] = fake.all_messages()
    assert retried.refs[0].message_id == str(stored.id)
    assert fake.nonce_hits == 1


async def test_bot_retry_after_an_unstored_failure_posts_once(
    fake: FakeDiscordAPI, open_adapter: OpenAdapter
) -> None:
    adapter = await open_adapter("bot")
    fake.fail_next(route=POST_MESSAGES, status=503)
    with pytest.raises(errors.TransientDeliveryError):
        await adapter.send(render(adapter, article()), send_context(1))
    await adapter.send(render(adapter, article()), send_context(1))
    assert len(fake.all_messages()) == 1
    assert fake.nonce_hits == 0


async def test_distinct_deliveries_are_never_folded_together(
    fake: FakeDiscordAPI, open_adapter: OpenAdapter
) -> None:
    adapter = await open_adapter("bot")
    message = render(adapter, article())
    await adapter.send(message, send_context(1))
    await adapter.send(message, send_context(2))
    assert len(fake.all_messages()) == 2


@pytest.mark.parametrize("fault", ["5xx", "timeout", "drop"])
async def test_webhook_failure_after_storing_is_in_doubt_and_never_resent_by_discord_py(
    fake: FakeDiscordAPI, open_adapter: OpenAdapter, fault: str
) -> None:
    adapter = await open_adapter("webhook", request_timeout_seconds=0.3)
    assert adapter.idempotent is False
    await fail_once_after_storing(fake, EXECUTE_WEBHOOK, fault)
    with pytest.raises(errors.TransientDeliveryError) as caught:
        await adapter.send(render(adapter, article()), send_context(1))
    assert caught.value.in_doubt is True
    # discord.py's webhook adapter would have executed it again after 1 s: a duplicate.
    assert len(fake.all_messages()) == 1
    assert [r.route for r in fake.requests].count(EXECUTE_WEBHOOK) == 1


async def test_webhook_retry_after_an_unstored_failure_posts_once(
    fake: FakeDiscordAPI, open_adapter: OpenAdapter
) -> None:
    adapter = await open_adapter("webhook")
    fake.fail_next(route=EXECUTE_WEBHOOK, status=500)
    with pytest.raises(errors.TransientDeliveryError) as caught:
        await adapter.send(render(adapter, article()), send_context(1))
    assert caught.value.in_doubt is True  # from here, nobody can tell it was not stored
    await adapter.send(render(adapter, article()), send_context(1))
    assert len(fake.all_messages()) == 1


async def test_edit_and_delete_retries_are_harmless(
    fake: FakeDiscordAPI, open_adapter: OpenAdapter, mode: str
) -> None:
    adapter = await open_adapter(mode)
    sent = await adapter.send(render(adapter, article()), send_context())
    fake.fail_next(route="PATCH", status=500, then_process=True)
    with pytest.raises(errors.TransientDeliveryError):
        await adapter.edit(sent.refs, render(adapter, article(title="v2")), send_context(version=2))
    await adapter.edit(sent.refs, render(adapter, article(title="v2")), send_context(version=2))
    [stored] = fake.all_messages()
    assert stored.embeds[0]["title"] == "v2"

    fake.fail_next(route="DELETE", status=500, then_process=True)
    with pytest.raises(errors.TransientDeliveryError):
        await adapter.delete(sent.refs, send_context())
    with pytest.raises(errors.MessageNotFound):  # the dispatcher counts this as deleted
        await adapter.delete(sent.refs, send_context())
    assert fake.all_messages() == []
