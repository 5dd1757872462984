"""Bot tokens and webhook URLs never show up: not in DEBUG logs, errors, or reprs.

Fresh secrets per test: the redactor is process-wide, so secrets another test registered
cannot make this one pass. discord.py logs a webhook's full URL (token inside) at DEBUG, so
without the adapter's redaction this test fails.
"""

from __future__ import annotations

import logging
import secrets

import pytest

from distributor import errors
from tests.discord.conftest import OpenAdapter, article, render, send_context
from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.discord_fixtures import DISCORD_CHANNEL_ID

POST_MESSAGES = "POST /channels/{channel_id}/messages"
EXECUTE_WEBHOOK = "POST /webhooks/{webhook_id}/{webhook_token}"


def fresh_bot_token() -> str:
    head = f"MTE4NzQwMjczMTE4NTg4MTA5{secrets.randbelow(10)}"
    return f"{head}.{secrets.token_urlsafe(5)}.{secrets.token_urlsafe(28)}"


async def test_secrets_stay_out_of_logs_errors_and_reprs(
    fake: FakeDiscordAPI, open_adapter: OpenAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    bot_token, bad_token = fresh_bot_token(), fresh_bot_token()
    fake.add_bot(bot_token, name="leakbot")
    hook = fake.add_webhook(DISCORD_CHANNEL_ID, token=secrets.token_urlsafe(51))
    wrong_url = hook.url.rsplit("/", 1)[0] + "/" + secrets.token_urlsafe(51)
    wrong_token = wrong_url.rsplit("/", 1)[1]
    forbidden = [bot_token, bad_token, hook.token, hook.url, wrong_token]

    caplog.set_level(logging.DEBUG)  # the root logger: discord.py's loggers included
    # The CLI's log setup, run by earlier tests, leaves the "discord" logger at WARNING.
    caplog.set_level(logging.DEBUG, logger="discord")
    failures: list[errors.DeliveryError] = []
    adapters = [
        await open_adapter("bot", token=bot_token),
        await open_adapter("webhook", webhook_url=hook.url),
    ]
    for adapter in adapters:
        sent = await adapter.send(render(adapter, article()), send_context(1))
        await adapter.edit(sent.refs, render(adapter, article(title="v2")), send_context(1))
        create = POST_MESSAGES if adapter.channel.mode == "bot" else EXECUTE_WEBHOOK
        fake.fail_next(route=create, status=429, retry_after=0.01)
        with pytest.raises(errors.RateLimited) as limited:
            await adapter.send(render(adapter, article()), send_context(2))
        failures.append(limited.value)
        fake.fail_next(status=500)
        with pytest.raises(errors.TransientDeliveryError) as server:
            await adapter.send(render(adapter, article()), send_context(3))
        failures.append(server.value)
        await adapter.delete(sent.refs, send_context(1))
        with pytest.raises(errors.MessageNotFound) as gone:
            await adapter.delete(sent.refs, send_context(1))
        failures.append(gone.value)
    for broken in (
        await open_adapter("bot", token=bad_token),
        await open_adapter("webhook", webhook_url=wrong_url),
    ):
        adapters.append(broken)
        with pytest.raises(errors.ChannelBroken) as refused:
            await broken.send(render(broken, article()), send_context(4))
        failures.append(refused.value)
    for failure in failures:
        logging.getLogger("tests.discord").error("delivery failed", exc_info=failure)

    webhook_logs = [r for r in caplog.records if r.name == "discord.webhook.async_"]
    assert any("***" in r.getMessage() for r in webhook_logs)  # the URL was there, masked
    assert len(caplog.records) > 20
    texts = [caplog.text, *(r.getMessage() for r in caplog.records)]
    texts += [str(f) for f in failures] + [repr(f) for f in failures]
    texts += [repr(a) for a in adapters] + [repr(a.channel) for a in adapters]
    texts += [repr(vars(a)) for a in adapters]
    for secret in forbidden:
        assert not [t for t in texts if secret in t]
