"""Readers' tokens: crafted ones are 403s, keys are per purpose, old secrets verify for a while."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from distributor.web import WebContext, create_app
from distributor_channels.email.links import Links
from distributor_channels.email.models import SubscriberStatus
from distributor_channels.email.subscribers import Subscribers
from distributor_channels.email.tokens import TokenSigner, purpose_key
from tests.email.world import BASE_URL, SECRET, World, email_config
from tests.fakes.smtp import FakeSMTP
from tests.helpers import write_config

MAC = "A" * 32
OLD_SECRET = "the-secret-before-the-rotation-2b7e151628aed2a6"
OTHER_SECRET = "a-secret-this-deployment-never-had-3c6ef372fe94"


def client_for(world: World) -> httpx.AsyncClient:
    app = world.loaded.app
    context = WebContext(
        app, world.store, world.loaded.renderer(), world.tmp_path / "outbox", world.clock
    )
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(context)), base_url=BASE_URL
    )


@pytest_asyncio.fixture
async def client(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(world) as made:
        yield made


async def status_of(world: World, address: str) -> str:
    reader = await Subscribers(world.store).find("daily", address)
    assert reader is not None
    return reader.status


async def test_crafted_tokens_are_403_with_one_log_line_each(
    world: World, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    ids = await world.subscribe("a@example.org")
    pending = await world.subscribe("p@example.org", status=SubscriberStatus.PENDING)
    sid, pid = ids["a@example.org"], pending["p@example.org"]
    valid = TokenSigner(SECRET).unsubscribe("daily", sid, "a@example.org")
    crafted = [
        ("confirm", f"daily.{pid}.zzzzzzzzzzzzz.{MAC}"),  # a timestamp no datetime holds
        ("confirm", f"daily.{pid}.zzzzzzzz.{MAC}"),
        ("confirm", f"daily.99999999999.abc.{MAC}"),  # beyond the 32-bit id column
        ("unsubscribe", f"daily.99999999999999.{MAC}"),
        ("unsubscribe", f"daily.2147483648.{MAC}"),
        ("unsubscribe", f"{valid}%0A"),  # "$" would take it; "\Z" does not
        ("confirm", f"daily.{pid}.abc.{MAC}%0A"),
    ]
    for purpose, token in crafted:
        for method in ("GET", "POST"):
            caplog.clear()
            with caplog.at_level(logging.INFO):
                answer = await client.request(method, f"/{purpose}/{token}")
            assert answer.status_code == 403, (method, token)
            assert "not valid" in answer.text
            logged = [r for r in caplog.records if r.name.startswith("distributor")]
            assert len(logged) == 1, (token, [r.getMessage() for r in logged])
            (record,) = logged
            assert record.exc_info is None and "\n" not in record.getMessage()
            assert f"refused a {purpose} link" in record.getMessage()
            assert MAC not in record.getMessage() and valid not in record.getMessage()
    assert await status_of(world, "a@example.org") == SubscriberStatus.CONFIRMED
    assert await status_of(world, "p@example.org") == SubscriberStatus.PENDING


def test_parse_refuses_what_the_columns_and_datetimes_cannot_hold() -> None:
    signer = TokenSigner(SECRET)
    assert signer.parse(f"daily.2147483647.{MAC}", "unsubscribe") is not None
    for token in (f"daily.2147483648.{MAC}", f"daily.1.{MAC}\n", f"daily.1.{MAC}x"):
        assert signer.parse(token, "unsubscribe") is None, token
    for token in (f"daily.1.zzzzzzzzzzzzz.{MAC}", f"daily.1.zzzzzzzz.{MAC}", f"daily.1.a.{MAC}\n"):
        assert signer.parse(token, "confirm") is None, token


def test_each_purpose_has_its_own_key() -> None:
    unsubscribe, confirm = purpose_key(SECRET, "unsubscribe"), purpose_key(SECRET, "confirm")
    assert unsubscribe != confirm and SECRET.encode() not in (unsubscribe, confirm)
    token = TokenSigner(SECRET).unsubscribe("daily", 7, "A@example.org")
    digest = hmac.new(unsubscribe, b"daily\x007\x00a@example.org\x00", hashlib.sha256).digest()
    assert token == f"daily.7.{base64.urlsafe_b64encode(digest[:24]).decode()}"


def test_secrets_shorter_than_32_characters_sign_nothing() -> None:
    with pytest.raises(ValueError, match="32 characters"):
        TokenSigner("news2026")
    with pytest.raises(ValueError, match="32 characters"):
        TokenSigner(SECRET, ["news2026"])


def legacy_unsubscribe(secret: str, list_name: str, sid: int, address: str) -> str:
    """An unsubscribe token as mailed before per-purpose keys."""
    fields = (b"distributor-email-token-v1", b"unsubscribe", list_name.encode(), str(sid).encode())
    message = b"\0".join((*fields, address.encode(), b""))
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return f"{list_name}.{sid}.{base64.urlsafe_b64encode(digest[:24]).decode()}"


async def test_unsubscribe_links_mailed_before_the_key_change_still_work(
    world: World, client: httpx.AsyncClient
) -> None:
    ids = await world.subscribe("a@example.org")
    token = legacy_unsubscribe(SECRET, "daily", ids["a@example.org"], "a@example.org")
    assert (await client.post(f"/confirm/{token}")).status_code == 403  # never a confirmation
    assert (await client.post(f"/unsubscribe/{token}")).status_code == 200
    assert await status_of(world, "a@example.org") == SubscriberStatus.UNSUBSCRIBED


async def test_previous_secrets_verify_links_but_sign_none(
    world: World, tmp_path: Path, store_url: str, smtp_server: FakeSMTP
) -> None:
    data = email_config(store_url, tmp_path, smtp_server)
    data["web"]["previous_secrets"] = [OLD_SECRET]
    world.loaded = write_config(tmp_path, data)
    ids = await world.subscribe("old@example.org", "other@example.org")
    links = Links(world.loaded.app.web)
    assert links.unsubscribe("daily", 1, "x@example.org") == (
        f"{BASE_URL}/unsubscribe/{TokenSigner(SECRET).unsubscribe('daily', 1, 'x@example.org')}"
    )
    old = TokenSigner(OLD_SECRET).unsubscribe("daily", ids["old@example.org"], "old@example.org")
    other = TokenSigner(OTHER_SECRET).unsubscribe(
        "daily", ids["other@example.org"], "other@example.org"
    )
    async with client_for(world) as client:
        assert (await client.post(f"/unsubscribe/{other}")).status_code == 403
        assert (await client.post(f"/unsubscribe/{old}")).status_code == 200
    assert await status_of(world, "old@example.org") == SubscriberStatus.UNSUBSCRIBED
    assert await status_of(world, "other@example.org") == SubscriberStatus.CONFIRMED
