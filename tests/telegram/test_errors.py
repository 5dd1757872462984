"""Every Bot API failure becomes the distributor error that says what to do about it."""

from __future__ import annotations

import asyncio
import socket

import pytest
from telegram.warnings import PTBDeprecationWarning

from distributor import errors
from distributor.store import Store
from distributor.types import RenderedMessage
from distributor_channels.telegram.client import POOL_SIZE
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_fixtures import CHANNEL_ID, FORUM_ID, GROUP_ID, PRIVATE_ID
from tests.telegram.conftest import PHOTO_URL, MakeAdapter, article, send_context


def by_hand(chat: int | str, text: str, method: str = "sendMessage") -> RenderedMessage:
    """A payload the builder would never make (it checks its HTML): to provoke Telegram."""
    field = "caption" if method == "sendPhoto" else "text"
    params = {"chat_id": str(chat), field: text, "parse_mode": "HTML"}
    if method == "sendPhoto":
        params["photo"] = PHOTO_URL
    return RenderedMessage(payload={"method": method, "params": params}, summary="")


async def test_429_is_rate_limited_with_telegrams_retry_after(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter, recwarn: pytest.WarningsRecorder
) -> None:
    adapter = await make_adapter()
    telegram_api.fail_next(method="sendMessage", status=429, retry_after=7)
    with pytest.raises(errors.RateLimited) as caught:
        await adapter.send(adapter.builder.render(article()), send_context())

    assert caught.value.retry_after == 7
    assert caught.value.status == 429
    assert str(caught.value) == (
        "telegram channel 'tg': sendMessage failed: flood control: retry after 7 s (429)"
    )
    assert telegram_api.all_messages() == []
    assert not [w for w in recwarn if issubclass(w.category, PTBDeprecationWarning)]


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_is_transient_and_not_in_doubt(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter, status: int
) -> None:
    adapter = await make_adapter()
    telegram_api.fail_next(status=status)
    with pytest.raises(errors.TransientDeliveryError) as caught:
        await adapter.send(adapter.builder.render(article()), send_context())

    assert type(caught.value) is errors.TransientDeliveryError
    assert caught.value.retryable and not caught.value.in_doubt
    assert telegram_api.all_messages() == []


async def test_timeout_after_telegram_took_the_post_is_in_doubt(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()  # read timeout 0.5 s
    telegram_api.timeout_next(method="sendMessage", seconds=3, then_process=True)
    with pytest.raises(errors.TransientDeliveryError) as caught:
        await adapter.send(adapter.builder.render(article()), send_context())

    assert caught.value.in_doubt
    assert "may have posted it" in str(caught.value)
    assert len(telegram_api.all_messages()) == 1  # it was posted: resending would duplicate


async def test_dropped_connection_after_sending_is_in_doubt(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    telegram_api.drop_next(method="sendMessage", then_process=True)
    with pytest.raises(errors.TransientDeliveryError) as caught:
        await adapter.send(adapter.builder.render(article()), send_context())

    assert caught.value.in_doubt
    assert len(telegram_api.all_messages()) == 1


async def test_connection_refused_is_transient_and_certainly_not_sent(
    make_adapter: MakeAdapter,
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    adapter = await make_adapter(api_base_url=f"http://127.0.0.1:{port}/bot")
    with pytest.raises(errors.TransientDeliveryError) as caught:
        await adapter.send(adapter.builder.render(article()), send_context())
    assert not caught.value.in_doubt


@pytest.mark.parametrize(
    ("setup", "chat", "expected", "status"),
    [
        ("kick", CHANNEL_ID, "bot was kicked from the channel chat; add the bot back", 403),
        ("kick", PRIVATE_ID, "bot was blocked by the user", 403),
        ("leave", CHANNEL_ID, "bot is not a member of the channel chat", 403),
        ("restrict", GROUP_ID, "not enough rights to send text messages", 400),
        ("none", "@no_such_channel", "chat not found; check `chat`", 400),
        ("none", -100999, "chat not found", 400),
    ],
)
async def test_unusable_chat_breaks_the_channel_with_a_reason(
    telegram_api: FakeTelegramAPI,
    make_adapter: MakeAdapter,
    setup: str,
    chat: int | str,
    expected: str,
    status: int,
) -> None:
    if setup == "kick":
        telegram_api.kick(int(chat))
    elif setup == "leave":
        telegram_api.chats[int(chat)].member_status = "left"
    elif setup == "restrict":
        telegram_api.restrict(int(chat))
    adapter = await make_adapter(chat=str(chat))
    with pytest.raises(errors.ChannelBroken) as caught:
        await adapter.send(adapter.builder.render(article()), send_context())

    assert expected in str(caught.value)
    assert caught.value.status == status
    assert str(caught.value).startswith("telegram channel 'tg': sendMessage failed: ")
    assert telegram_api.all_messages() == []


async def test_wrong_token_breaks_the_channel(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter
) -> None:
    wrong = "987654321:AAWrongTokenWrongTokenWrongToken-xyz"
    adapter = await make_adapter(token=wrong)
    with pytest.raises(errors.ChannelBroken) as caught:
        await adapter.send(adapter.builder.render(article()), send_context())

    assert caught.value.status == 401
    assert "rejected the bot token" in str(caught.value)
    assert wrong not in str(caught.value) and wrong.split(":")[1] not in repr(caught.value)
    assert telegram_api.requests[0].status == 401


async def test_unknown_forum_topic_breaks_the_channel(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter(chat=str(FORUM_ID), topic=99)
    with pytest.raises(errors.ChannelBroken, match="check `topic`"):
        await adapter.send(adapter.builder.render(article()), send_context())


async def test_upgraded_group_is_followed_stored_and_remembered(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter, store: Store
) -> None:
    new_id = telegram_api.upgrade_to_supergroup(GROUP_ID)
    adapter = await make_adapter(chat=str(GROUP_ID), store=store)
    result = await adapter.send(adapter.builder.render(article()), send_context())

    [stored] = telegram_api.all_messages()
    assert stored.chat_id == new_id
    assert result.refs[0].target == str(new_id)
    assert "supergroup" in result.note
    assert (await store.channel_data("tg"))["chat_id"] == str(new_id)
    # A restart reads the new id back: no second round trip to the old group.
    restarted = await make_adapter(chat=str(GROUP_ID), store=store)
    before = len(telegram_api.requests)
    await restarted.send(restarted.builder.render(article(article_id=2)), send_context(2, 2))
    assert [r.chat_id for r in telegram_api.requests[before:]] == [new_id]
    assert len(telegram_api.messages[new_id]) == 2
    # Once the admin writes another chat, the configuration wins over the stored id.
    moved = await make_adapter(chat=str(CHANNEL_ID), store=store)
    assert moved.chat == str(CHANNEL_ID)


async def test_unparsable_html_is_retried_once_as_plain_text(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    result = await adapter.send(
        by_hand("@newsroom", "<b>Port <i>closed</b></i> &amp; more"), send_context()
    )

    [stored] = telegram_api.all_messages()
    assert stored.text == "Port closed & more"
    assert stored.parse_mode is None and stored.entities == []
    assert [r.status for r in telegram_api.requests] == [400, 200]
    assert "could not parse the HTML" in result.note and "plain text" in result.note


async def test_unparsable_caption_keeps_the_photo_as_plain_text(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    await adapter.send(by_hand("@newsroom", "a <p>paragraph</p>", "sendPhoto"), send_context())

    [stored] = telegram_api.all_messages()
    assert (stored.kind, stored.text, stored.parse_mode) == ("photo", "a paragraph", None)


async def test_plain_text_refused_too_is_permanent(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    with pytest.raises(errors.PermanentDeliveryError) as caught:
        await adapter.send(by_hand("@newsroom", "<p></p>"), send_context())

    assert not isinstance(caught.value, errors.ChannelBroken)
    assert "message text is empty" in str(caught.value).lower()
    assert len(telegram_api.requests) == 2


async def test_no_free_connection_is_transient_and_certainly_not_sent(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter(timeouts={"read": 1.0, "pool": 0.1})
    pool = POOL_SIZE  # the bot's connection pool, shared by its channels
    telegram_api.timeout_next(seconds=3, then_process=False, times=pool)
    outcomes = await asyncio.gather(
        *(adapter.send(adapter.builder.render(article()), send_context()) for _ in range(pool + 1)),
        return_exceptions=True,
    )

    assert all(isinstance(o, errors.TransientDeliveryError) for o in outcomes)
    in_doubt = sorted(o.in_doubt for o in outcomes if isinstance(o, errors.TransientDeliveryError))
    assert in_doubt == [False] + [True] * pool  # the one that never got a connection: not sent
    assert len(telegram_api.requests) == pool
