"""The feed client against a real local server: 304s, gzip, caps, redirects, deadlines."""

from __future__ import annotations

import random
from datetime import timedelta
from email.utils import format_datetime
from unittest import mock

import pytest

from distributor import __version__
from distributor.feeds.fetch import (
    MAX_RETRY_AFTER_SECONDS,
    Backoff,
    FeedClient,
    FetchError,
    FetchErrorKind,
    Validators,
    parse_retry_after,
)
from tests.conftest import FakeClock
from tests.feeds.conftest import TEST_LIMITS
from tests.feeds.server import FeedServer, Reply

BODY = "<rss version='2.0'><channel><title>x</title></channel></rss>"


async def test_a_feed_comes_back_with_its_validators_and_a_user_agent(
    server: FeedServer, client: FeedClient
) -> None:
    server.set("/feed", Reply(BODY, etag='"v1"', last_modified="Sun, 29 Nov 2026 08:00:00 GMT"))

    fetched = await client.get(server.url("/feed"))

    assert fetched.status == 200 and not fetched.not_modified
    assert fetched.body == BODY.encode()
    assert fetched.media_type == "application/rss+xml"
    assert fetched.charset == "utf-8"
    assert fetched.validators == Validators('"v1"', "Sun, 29 Nov 2026 08:00:00 GMT")
    headers = server.hits("/feed")[0].headers
    assert headers["User-Agent"].startswith(f"distributor/{__version__} (")
    assert "application/rss+xml" in headers["Accept"]
    assert "If-None-Match" not in headers


async def test_a_conditional_get_gets_a_304_and_no_body(
    server: FeedServer, client: FeedClient
) -> None:
    server.set("/feed", Reply(BODY, etag='"v1"'))
    first = await client.get(server.url("/feed"))

    again = await client.get(server.url("/feed"), validators=first.validators)

    assert again.not_modified and again.body == b""
    assert again.validators.etag == '"v1"'
    assert server.hits("/feed")[1].headers["If-None-Match"] == '"v1"'


async def test_if_modified_since_is_sent_and_honoured(
    server: FeedServer, client: FeedClient
) -> None:
    stamp = "Sun, 29 Nov 2026 08:00:00 GMT"
    server.set("/feed", Reply(BODY, last_modified=stamp))

    again = await client.get(server.url("/feed"), validators=Validators(None, stamp))

    assert again.not_modified
    assert again.validators.last_modified == stamp
    assert server.hits("/feed")[0].headers["If-Modified-Since"] == stamp


async def test_gzip_is_asked_for_and_decoded(server: FeedServer, client: FeedClient) -> None:
    server.set("/feed", Reply(BODY * 50, gzip=True))

    fetched = await client.get(server.url("/feed"))

    assert fetched.body == (BODY * 50).encode()
    assert "gzip" in server.hits("/feed")[0].headers["Accept-Encoding"]


async def test_a_declared_oversized_body_is_refused_before_reading(
    server: FeedServer, client: FeedClient
) -> None:
    server.set("/big", Reply("x" * (TEST_LIMITS.max_bytes + 1)))

    with pytest.raises(FetchError) as caught:
        await client.get(server.url("/big"))

    assert caught.value.kind == FetchErrorKind.TOO_LARGE
    assert server.url("/big") in str(caught.value)


async def test_a_streamed_body_stops_at_the_cap(server: FeedServer, client: FeedClient) -> None:
    # No Content-Length: only counting what arrives can stop it.
    server.set("/endless", Reply(stream_bytes=TEST_LIMITS.max_bytes * 20))

    with pytest.raises(FetchError) as caught:
        await client.get(server.url("/endless"))

    assert caught.value.kind == FetchErrorKind.TOO_LARGE


async def test_a_gzip_bomb_stops_at_the_cap(server: FeedServer, client: FeedClient) -> None:
    server.set("/bomb", Reply(b"\0" * (TEST_LIMITS.max_bytes * 10), gzip=True))

    with pytest.raises(FetchError) as caught:
        await client.get(server.url("/bomb"))

    assert caught.value.kind == FetchErrorKind.TOO_LARGE


async def test_redirects_are_followed_to_the_final_url(
    server: FeedServer, client: FeedClient
) -> None:
    server.set("/old", Reply(status=301, headers={"Location": "/new"}))
    server.set("/new", Reply(BODY))

    fetched = await client.get(server.url("/old"))

    assert fetched.url == server.url("/new")
    assert fetched.body == BODY.encode()


async def test_a_redirect_loop_is_cut_short(server: FeedServer, client: FeedClient) -> None:
    server.set("/loop", Reply(status=302, headers={"Location": "/loop"}))

    with pytest.raises(FetchError) as caught:
        await client.get(server.url("/loop"))

    assert caught.value.kind == FetchErrorKind.TOO_MANY_REDIRECTS
    assert len(server.hits("/loop")) == TEST_LIMITS.max_redirects + 1


async def test_a_server_that_never_answers_times_out(
    server: FeedServer, client: FeedClient
) -> None:
    server.set("/silent", Reply(hang=True))

    with pytest.raises(FetchError) as caught:
        await client.get(server.url("/silent"))

    assert caught.value.kind == FetchErrorKind.TIMEOUT
    assert "timed out" in str(caught.value)


async def test_an_error_status_is_an_error(server: FeedServer, client: FeedClient) -> None:
    server.set("/feed", Reply("oops", status=500))

    with pytest.raises(FetchError) as caught:
        await client.get(server.url("/feed"))

    assert caught.value.kind == FetchErrorKind.HTTP_STATUS
    assert caught.value.status == 500
    assert caught.value.retry_after is None


async def test_429_says_when_to_come_back(server: FeedServer, client: FeedClient) -> None:
    server.set("/feed", Reply(status=429, headers={"Retry-After": "120"}))

    with pytest.raises(FetchError) as caught:
        await client.get(server.url("/feed"))

    assert caught.value.kind == FetchErrorKind.RATE_LIMITED
    assert caught.value.retry_after == 120


async def test_503_with_an_http_date_retry_after(
    server: FeedServer, client: FeedClient, clock: FakeClock
) -> None:
    later = format_datetime(clock.now + timedelta(minutes=10), usegmt=True)
    server.set("/feed", Reply(status=503, headers={"Retry-After": later}))

    with pytest.raises(FetchError) as caught:
        await client.get(server.url("/feed"))

    assert caught.value.kind == FetchErrorKind.RATE_LIMITED
    assert caught.value.retry_after == 600


async def test_a_refused_connection_is_a_connection_error(
    server: FeedServer, client: FeedClient
) -> None:
    url = server.url("/feed")
    await server.stop()  # nothing listens on that port any more

    with pytest.raises(FetchError) as caught:
        await client.get(url)

    assert caught.value.kind == FetchErrorKind.CONNECTION


async def test_a_url_of_another_scheme_is_refused(client: FeedClient) -> None:
    with pytest.raises(FetchError) as caught:
        await client.get("ftp://127.0.0.1/feed")

    assert caught.value.kind == FetchErrorKind.INVALID_URL


def test_retry_after_forms() -> None:
    clock = FakeClock()
    assert parse_retry_after("30", clock.now) == 30
    assert parse_retry_after(None, clock.now) is None
    assert parse_retry_after("soon", clock.now) is None
    past = format_datetime(clock.now - timedelta(hours=1), usegmt=True)
    assert parse_retry_after(past, clock.now) == 0


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    rng = mock.Mock(spec=random.Random)
    rng.uniform.return_value = 0.0
    backoff = Backoff(base_seconds=300, max_seconds=3600, rng=rng)

    assert [backoff.delay(n) for n in (1, 2, 3, 4, 5)] == [300, 600, 1200, 2400, 3600]

    rng.uniform.return_value = 0.25  # the largest jitter: a quarter more, still capped
    assert backoff.delay(1) == 375
    assert backoff.delay(9) == 3600


def test_backoff_never_comes_before_retry_after() -> None:
    rng = mock.Mock(spec=random.Random)
    rng.uniform.return_value = 0.0
    backoff = Backoff(base_seconds=60, rng=rng)

    assert backoff.delay(1, retry_after=900) == 900
    assert backoff.delay(1, retry_after=10) == 60
    assert backoff.delay(1, retry_after=10**9) == MAX_RETRY_AFTER_SECONDS


async def test_public_only_refuses_private_addresses_and_redirects_to_them(
    server: FeedServer, client: FeedClient
) -> None:
    server.set("/page", Reply("<html><body>intranet</body></html>"))

    with pytest.raises(FetchError) as caught:
        await client.get(server.url("/page"), public_only=True)
    plain = await client.get(server.url("/page"))  # the admin's own feeds may be anywhere

    assert caught.value.kind == FetchErrorKind.PRIVATE_ADDRESS
    assert server.hits("/page") == server.hits("/page")[:1]  # the refused one never left
    assert plain.status == 200


@pytest.mark.parametrize(
    ("host", "public"),
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("192.168.0.10", False),
        ("169.254.169.254", False),
        ("[::1]", False),
        ("localhost", False),
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
    ],
)
async def test_which_hosts_are_public(host: str, public: bool) -> None:
    from distributor.feeds.fetch import is_public

    assert await is_public(host) is public
