"""The mapping itself, on python-telegram-bot's real exception objects (no server needed).

These are the cases the fake server cannot produce: a 429 without ``retry_after``, replies
that do not parse, and transport failures of every kind.
"""

from __future__ import annotations

import httpx
import pytest
from telegram import error as tg

from distributor import errors, logs
from distributor_channels.telegram import error_map


def caused(exc: tg.TelegramError, cause: BaseException) -> tg.TelegramError:
    """``exc`` as PTB raises it: ``raise exc from cause``."""
    try:
        raise exc from cause
    except tg.TelegramError as raised:
        return raised


REQUEST = httpx.Request("POST", "http://127.0.0.1:1/bot***/sendMessage")
TIMEOUTS = {"read": httpx.ReadTimeout, "write": httpx.WriteTimeout}
NOT_SENT = {"connect": httpx.ConnectTimeout, "pool": httpx.PoolTimeout}


@pytest.mark.parametrize(
    ("exc", "in_doubt"),
    [
        (tg.TimedOut(), True),
        *[(caused(tg.TimedOut(), t("", request=REQUEST)), True) for t in TIMEOUTS.values()],
        *[(caused(tg.TimedOut(), t("", request=REQUEST)), False) for t in NOT_SENT.values()],
        (caused(tg.NetworkError("httpx.ConnectError: x"), httpx.ConnectError("x")), False),
        (caused(tg.NetworkError("httpx.ReadError: x"), httpx.ReadError("x")), True),
        (caused(tg.NetworkError("httpx.RemoteProtocolError"), httpx.RemoteProtocolError("")), True),
        (caused(tg.NetworkError("Unknown error in HTTP implementation"), ValueError("x")), True),
        (tg.NetworkError("Bad Gateway"), False),
        (tg.TelegramError("Invalid server response"), True),
    ],
)
def test_transport_failures_are_retryable_and_in_doubt_only_if_sent(
    exc: tg.TelegramError, in_doubt: bool
) -> None:
    mapped = error_map.to_delivery_error(exc, channel="tg", operation="sendMessage")
    assert type(mapped) is errors.TransientDeliveryError
    assert mapped.retryable
    assert mapped.in_doubt is in_doubt


def test_a_429_without_retry_after_still_waits_what_the_text_says() -> None:
    mapped = error_map.to_delivery_error(
        tg.NetworkError("Too Many Requests: retry after 5"), channel="tg", operation="sendPhoto"
    )
    assert isinstance(mapped, errors.RateLimited) and mapped.retry_after == 5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bad Request: message to edit not found", errors.MessageNotFound),
        ("Bad Request: message to delete not found", errors.MessageNotFound),
        ("Bad Request: message can't be deleted", errors.NotDeletable),
        ("Bad Request: chat not found", errors.ChannelBroken),
        ("Bad Request: not enough rights to send photos to the chat", errors.ChannelBroken),
        ("Bad Request: TOPIC_CLOSED", errors.ChannelBroken),
        ("Bad Request: message is too long", errors.PermanentDeliveryError),
        ("Bad Request: can't parse entities: unsupported start tag", errors.PermanentDeliveryError),
    ],
)
def test_bad_requests_by_their_text(text: str, expected: type[errors.DeliveryError]) -> None:
    mapped = error_map.to_delivery_error(tg.BadRequest(text), channel="tg", operation="op")
    assert type(mapped) is expected
    assert mapped.status == 400
    assert not mapped.retryable


def test_photo_refusals_are_told_apart_from_other_refusals() -> None:
    refused = [
        "Bad Request: wrong file identifier/HTTP URL specified",
        "Bad Request: failed to get HTTP URL content",
        "Bad Request: wrong type of the web page content",
        "Bad Request: IMAGE_PROCESS_FAILED",
        "Bad Request: not enough rights to send photos to the chat",
    ]
    assert all(error_map.is_photo_refused(tg.BadRequest(t)) for t in refused)
    kept = ["Bad Request: chat not found", "Bad Request: can't parse entities: x"]
    assert not any(error_map.is_photo_refused(tg.BadRequest(t)) for t in kept)
    assert not error_map.is_photo_refused(tg.Forbidden("Forbidden: bot was kicked"))


def test_platform_text_never_carries_a_secret() -> None:
    token = "424242:AAThisTokenMustNeverBeQuotedAnywhere-1"
    logs.install_redaction([token])
    exc = tg.InvalidToken(f"The token `{token}` was rejected by the server.")
    mapped = error_map.to_delivery_error(exc, channel="tg", operation="getMe")
    assert isinstance(mapped, errors.ChannelBroken) and mapped.status == 401
    assert token not in str(mapped) and token.split(":")[1] not in str(mapped)
