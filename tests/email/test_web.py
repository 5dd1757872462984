"""The readers' web service over HTTP; confirmation emails read back from a real SMTP server."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from distributor.web import WebContext, create_app
from distributor_channels.email.models import SubscriberStatus
from distributor_channels.email.subscribers import Subscribers
from distributor_channels.email.tokens import TokenSigner
from tests.email.world import BASE_URL, World, email_config
from tests.helpers import write_config

CONFIRM_LINK = re.compile(r"https://news\.example\.org(/confirm/\S+)")


def web_client(world: World) -> httpx.AsyncClient:
    app = world.loaded.app
    context = WebContext(
        app, world.store, world.loaded.renderer(), world.tmp_path / "outbox", world.clock
    )
    transport = httpx.ASGITransport(app=create_app(context))
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL)


@pytest_asyncio.fixture
async def client(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with web_client(world) as made:
        yield made


async def confirm_path(world: World, address: str) -> str:
    """The link in the latest confirmation email, once the workers have mailed the queue."""
    await world.send_confirmations()
    (received,) = world.smtp.to(address)[-1:]
    text = received.message.get_body(("plain",))
    assert text is not None
    match = CONFIRM_LINK.search(text.get_content())
    assert match is not None
    return match[1]


async def status_of(world: World, address: str) -> str:
    reader = await Subscribers(world.store).find("daily", address)
    assert reader is not None
    return reader.status


async def test_double_opt_in_then_one_click_unsubscribe(
    world: World, client: httpx.AsyncClient
) -> None:
    form = await client.get("/subscribe/daily")
    assert form.status_code == 200
    assert 'name="topics" value="politics"' in form.text

    joined = await client.post(
        "/subscribe/daily",
        data={"email": " New.Reader@Example.ORG ", "topics": ["politics", "made-up"]},
    )
    assert joined.status_code == 200 and "Check your inbox" in joined.text
    reader = await Subscribers(world.store).find("daily", "new.reader@example.org")
    assert reader is not None and reader.status == SubscriberStatus.PENDING
    assert reader.topics == "" and reader.requested_topics == "|politics|"
    assert world.smtp.messages == []  # queued: the workers mail it, not the web request
    path = await confirm_path(world, "new.reader@example.org")
    (confirmation,) = world.smtp.to("new.reader@example.org")
    assert confirmation.message["Subject"] == "Please confirm your subscription"

    # Pending readers receive no story.
    message, context = await world.story(1, tags=["politics"])
    await world.adapter().send(message, context)
    assert len(world.smtp.to("new.reader@example.org")) == 1

    page = await client.get(path)
    assert page.status_code == 200 and "<button" in page.text
    assert await status_of(world, "new.reader@example.org") == SubscriberStatus.PENDING
    confirmed = await client.post(path)
    assert confirmed.status_code == 200 and "Subscription confirmed" in confirmed.text
    assert await status_of(world, "new.reader@example.org") == SubscriberStatus.CONFIRMED
    reader = await Subscribers(world.store).find("daily", "new.reader@example.org")
    assert reader is not None and reader.topics == "|politics|"

    message, context = await world.story(2, tags=["politics"])
    await world.adapter().send(message, context)
    story = world.smtp.to("new.reader@example.org")[-1].message
    unsubscribe_url = story["List-Unsubscribe"].split(",")[0].strip("<> ")
    assert unsubscribe_url.startswith(f"{BASE_URL}/unsubscribe/")

    shown = await client.get(unsubscribe_url)
    assert shown.status_code == 200 and "<button" in shown.text
    assert await status_of(world, "new.reader@example.org") == SubscriberStatus.CONFIRMED

    # What Gmail does (RFC 8058): a form POST, no cookies, and it must get 200, not a redirect.
    client.cookies.clear()
    one_click = await client.post(
        unsubscribe_url,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200
    assert "location" not in one_click.headers and "set-cookie" not in one_click.headers
    assert await status_of(world, "new.reader@example.org") == SubscriberStatus.UNSUBSCRIBED

    message, context = await world.story(3, tags=["politics"])
    await world.adapter().send(message, context)
    assert len(world.smtp.to("new.reader@example.org")) == 2  # confirmation + one story


async def test_a_multipart_one_click_post_also_unsubscribes(
    world: World, client: httpx.AsyncClient
) -> None:
    ids = await world.subscribe("a@example.org")
    token = TokenSigner("test-web-secret-4d1c8e0f5b7a9c2e31").unsubscribe(
        "daily", ids["a@example.org"], "a@example.org"
    )
    answer = await client.post(
        f"/unsubscribe/{token}", files={"List-Unsubscribe": (None, "One-Click")}
    )
    assert answer.status_code == 200
    assert await status_of(world, "a@example.org") == SubscriberStatus.UNSUBSCRIBED


async def test_get_never_unsubscribes_nor_confirms(world: World, client: httpx.AsyncClient) -> None:
    ids = await world.subscribe("a@example.org")
    signer = TokenSigner("test-web-secret-4d1c8e0f5b7a9c2e31")
    token = signer.unsubscribe("daily", ids["a@example.org"], "a@example.org")
    for _ in range(3):  # a link scanner opening it again and again
        assert (await client.get(f"/unsubscribe/{token}")).status_code == 200
        assert (await client.head(f"/unsubscribe/{token}")).status_code in (200, 405)
    assert await status_of(world, "a@example.org") == SubscriberStatus.CONFIRMED

    await client.post("/subscribe/daily", data={"email": "p@example.org"})
    confirm = await confirm_path(world, "p@example.org")
    assert (await client.get(confirm)).status_code == 200
    assert await status_of(world, "p@example.org") == SubscriberStatus.PENDING


async def test_forged_and_foreign_tokens_are_refused(
    world: World, client: httpx.AsyncClient
) -> None:
    ids = await world.subscribe("victim@example.org", "attacker@example.org")
    victim, attacker = ids["victim@example.org"], ids["attacker@example.org"]
    signer = TokenSigner("test-web-secret-4d1c8e0f5b7a9c2e31")
    own = signer.unsubscribe("daily", attacker, "attacker@example.org")
    mac = own.rsplit(".", 1)[1]
    forged = [
        f"daily.{victim}.{mac}",  # my signature on somebody else's id
        signer.unsubscribe("daily", victim, "victim@example.org")[:-1] + "A",  # one char off
        TokenSigner("another-secret-entirely-0f1e2d3c4b5a").unsubscribe(
            "daily", victim, "victim@example.org"
        ),
        signer.unsubscribe("weekly", victim, "victim@example.org"),  # another list's token
        signer.confirm("daily", victim, "victim@example.org", world.clock(), "n"),  # purpose
        "daily.1.notatoken",
        "../../etc/passwd",
    ]
    for token in forged:
        answer = await client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
        assert answer.status_code in (403, 404), token
        assert "not valid" in answer.text or answer.status_code == 404
    assert await status_of(world, "victim@example.org") == SubscriberStatus.CONFIRMED
    confirm_with_unsubscribe = await client.post(f"/confirm/{own}")
    assert confirm_with_unsubscribe.status_code == 403


async def test_confirmation_links_expire(world: World, client: httpx.AsyncClient) -> None:
    await client.post("/subscribe/daily", data={"email": "late@example.org"})
    path = await confirm_path(world, "late@example.org")
    world.clock.advance(days=8)
    answer = await client.post(path)
    assert answer.status_code == 410 and "expired" in answer.text
    assert await status_of(world, "late@example.org") == SubscriberStatus.PENDING


@pytest.mark.parametrize(
    "typed",
    [
        "victim@example.org\r\nBcc: everyone@example.org",
        "victim@example.org>\r\nRCPT TO:<x@example.org",
        "not-an-address",
    ],
)
async def test_bad_addresses_and_header_injection_are_refused(
    world: World, client: httpx.AsyncClient, typed: str
) -> None:
    answer = await client.post("/subscribe/daily", data={"email": typed})
    assert answer.status_code == 400
    assert world.smtp.messages == []
    assert await Subscribers(world.store).counts("daily") == {}


async def test_subscribing_again_tells_nobody_who_is_subscribed(
    world: World, client: httpx.AsyncClient
) -> None:
    await world.subscribe("known@example.org")
    known = await client.post("/subscribe/daily", data={"email": "known@example.org"})
    unknown = await client.post("/subscribe/daily", data={"email": "fresh@example.org"})
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace("known@", "X@") == unknown.text.replace("fresh@", "X@")
    await world.send_confirmations()
    assert world.smtp.to("known@example.org") == []  # a confirmed reader is left alone
    assert await status_of(world, "known@example.org") == SubscriberStatus.CONFIRMED
    # A pending reader asking twice within minutes gets one email, not two.
    await client.post("/subscribe/daily", data={"email": "fresh@example.org"})
    await world.send_confirmations()
    assert len(world.smtp.to("fresh@example.org")) == 1


async def test_a_reader_who_left_comes_back_only_by_confirming_themselves(
    world: World, client: httpx.AsyncClient
) -> None:
    await world.subscribe("back@example.org", status=SubscriberStatus.UNSUBSCRIBED)
    await client.post("/subscribe/daily", data={"email": "back@example.org"})
    # An anonymous request does not touch the reader's choice: still unsubscribed.
    assert await status_of(world, "back@example.org") == SubscriberStatus.UNSUBSCRIBED
    await client.post(await confirm_path(world, "back@example.org"))
    assert await status_of(world, "back@example.org") == SubscriberStatus.CONFIRMED


async def test_a_dry_run_list_writes_its_confirmation_to_the_outbox(
    world: World, tmp_path: Path, store_url: str
) -> None:
    data = email_config(store_url, tmp_path, None, dry_run=True)
    world.loaded = write_config(tmp_path, data, name="dry.yaml")
    async with web_client(world) as client:
        answer = await client.post("/subscribe/daily", data={"email": "dry@example.org"})
    assert answer.status_code == 200
    assert await world.send_confirmations() == 1
    (written,) = (tmp_path / "outbox" / "newsletter").glob("confirm-*.eml")
    assert b"To: dry@example.org" in written.read_bytes()
    assert b"/confirm/daily." in written.read_bytes()
    assert world.smtp.messages == []


async def test_unknown_lists_and_health(client: httpx.AsyncClient) -> None:
    assert (await client.get("/subscribe/nope")).status_code == 404
    assert (await client.get("/healthz")).text == "ok"
    index = await client.get("/")
    assert index.status_code == 200 and "Subscribe to Daily News" in index.text


async def test_an_old_confirmation_link_does_not_bring_back_a_reader_who_left(
    world: World, client: httpx.AsyncClient
) -> None:
    await client.post("/subscribe/daily", data={"email": "left@example.org"})
    path = await confirm_path(world, "left@example.org")
    await client.post(path)
    reader = await Subscribers(world.store).find("daily", "left@example.org")
    assert reader is not None and await Subscribers(world.store).unsubscribe(reader.id)
    answer = await client.post(path)
    assert answer.status_code == 403 and "not valid" in answer.text
    assert await status_of(world, "left@example.org") == SubscriberStatus.UNSUBSCRIBED
