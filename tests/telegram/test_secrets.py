"""The bot token never shows: not in any library's DEBUG logs, exception messages or reprs."""

from __future__ import annotations

import logging
import socket

import pytest

from distributor import errors
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_fixtures import GROUP_ID, TELEGRAM_TOKEN
from tests.telegram.conftest import PHOTO_URL, SECRET_HALF, MakeAdapter, article, send_context
from tests.telegram.test_errors import by_hand

LIBRARY_LOGGERS = ("httpx", "httpcore", "telegram", "distributor", "asyncio")
WRONG_TOKEN = "555000111:AAAnotherSecretTokenThatMustNotLeak-42"


def chain(exc: BaseException | None) -> list[BaseException]:
    """The exception and everything it was raised from."""
    found: list[BaseException] = []
    while exc is not None and exc not in found:
        found.append(exc)
        exc = exc.__cause__ or exc.__context__
    return found


def leaks(text: str) -> list[str]:
    secrets = [TELEGRAM_TOKEN, SECRET_HALF, WRONG_TOKEN, WRONG_TOKEN.split(":")[1]]
    return [s for s in secrets if s in text]


async def test_no_token_in_debug_logs_errors_or_reprs(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger, and with it every library's
    for name in LIBRARY_LOGGERS:  # in case an earlier `logs.setup()` quietened them
        caplog.set_level(logging.DEBUG, logger=name)
    raised: list[BaseException] = []

    adapter = await make_adapter()
    sent = await adapter.send(adapter.builder.render(article(image=PHOTO_URL)), send_context())
    await adapter.edit(
        sent.refs, adapter.builder.render(article(title="Edited", image=PHOTO_URL)), send_context()
    )
    await adapter.send(by_hand("@newsroom", "<b>unclosed"), send_context())
    supergroup = telegram_api.upgrade_to_supergroup(GROUP_ID)
    group = await make_adapter(chat=str(GROUP_ID))
    await group.send(group.builder.render(article()), send_context())
    await adapter.delete(sent.refs, send_context())

    telegram_api.fail_next(status=429, retry_after=1)
    telegram_api.fail_next(status=502)
    telegram_api.timeout_next(seconds=2, then_process=False)
    telegram_api.kick(supergroup)
    for _ in range(3):
        with pytest.raises(errors.TransientDeliveryError) as transient:
            await adapter.send(adapter.builder.render(article()), send_context())
        raised.append(transient.value)
    with pytest.raises(errors.ChannelBroken) as kicked:
        await group.send(group.builder.render(article()), send_context())
    raised.append(kicked.value)
    wrong = await make_adapter(token=WRONG_TOKEN)
    with pytest.raises(errors.ChannelBroken) as rejected:
        await wrong.send(wrong.builder.render(article()), send_context())
    raised.append(rejected.value)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    unreachable = await make_adapter(api_base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(errors.TransientDeliveryError) as refused:
        await unreachable.send(unreachable.builder.render(article()), send_context())
    raised.append(refused.value)

    # The libraries did log the URLs and the API URL: it is the scrubbing that hides the token.
    assert "/bot***/sendPhoto" in caplog.text
    assert "Set Bot API URL" in caplog.text
    assert leaks(caplog.text) == []
    assert leaks("\n".join(r.getMessage() for r in caplog.records)) == []
    for exc in raised:
        for link in chain(exc):
            assert leaks(f"{link}\n{link!r}") == [], type(link)
    for shown in (adapter, wrong, unreachable, adapter.client, adapter.config, adapter.pacing):
        assert leaks(repr(shown)) == []
    assert leaks(adapter.config.describe_target()) == []
    assert all(leaks(str(b.key)) == [] for b in adapter.pacing.budgets("send", "@newsroom"))
