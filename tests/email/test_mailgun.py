"""Mailgun's webhooks against the real web service: signed events act, the rest are refused.

The test is its own Mailgun: it signs each webhook with a test signing key, at the injected
clock's time, the way Mailgun does (HMAC-SHA256 of timestamp and token, hex).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis.asyncio
import yaml
from click.testing import CliRunner
from sqlalchemy import select, text

from distributor.cli import main
from distributor.configload import LoadedConfig, load_config
from distributor_channels.email.models import BounceEvent, EmailSend, SendStatus
from distributor_channels.email.suppression import counts
from tests.email.test_bounces import statuses
from tests.email.test_web import web_client
from tests.email.world import World, email_config

KEY = "key-mailgun-test-3f9a1c7e5b2d4e6f8a0b"
KEY_VARIABLE = "MAILGUN_WEBHOOK_SIGNING_KEY"
PATH = "/bounces/mailgun"


class FakeMailgun:
    """Signs webhooks like Mailgun, at the world's clock."""

    def __init__(self, world: World, key: str = KEY) -> None:
        self.world = world
        self.key = key

    def signature(
        self, *, age_seconds: float = 0.0, token: str | None = None, parent_key: str | None = None
    ) -> dict[str, str]:
        timestamp = str(int(self.world.clock().timestamp() - age_seconds))
        token = token or secrets.token_hex(25)

        def sign(key: str) -> str:
            return hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()

        signed = {"timestamp": timestamp, "token": token, "signature": sign(self.key)}
        if parent_key is not None:  # a subaccount's webhook: the primary account signs too
            signed["parent-signature"] = sign(parent_key)
        return signed

    def body(self, event: dict[str, Any], **signing: Any) -> bytes:
        return json.dumps({"signature": self.signature(**signing), "event-data": event}).encode()


def failed(severity: str, recipient: str, sender: str, message_id: str) -> dict[str, Any]:
    return {
        "event": "failed",
        "severity": severity,
        "reason": "bounce" if severity == "permanent" else "generic",
        "recipient": recipient,
        "envelope": {"sender": sender, "targets": recipient, "transport": "smtp"},
        "message": {"headers": {"message-id": message_id, "to": recipient}},
        "delivery-status": {
            "code": 550 if severity == "permanent" else 452,
            "enhanced-code": "5.1.1" if severity == "permanent" else "4.2.2",
            "message": "No such user" if severity == "permanent" else "Mailbox full",
        },
    }


def complaint_or_unsubscribe(event: str, recipient: str, message_id: str) -> dict[str, Any]:
    # Mailgun's complaint and unsubscribe events carry no envelope sender.
    return {
        "event": event,
        "recipient": recipient,
        "message": {"headers": {"message-id": message_id, "to": recipient}},
    }


def mailgun_config(world: World, redis_url: str | None = None, **bounces: Any) -> LoadedConfig:
    settings = {
        "address": "bounces@news.example.org",
        "mailgun": {"signing_key": "${" + KEY_VARIABLE + "}"},
        **bounces,
    }
    data = email_config(world.loaded.app.store.url, world.tmp_path, world.smtp, bounces=settings)
    if redis_url is not None:
        data["redis"] = {"url": redis_url}
    path = world.tmp_path / "mailgun.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return load_config(path, environ={KEY_VARIABLE: KEY})


@pytest.fixture
def mailgun(world: World) -> FakeMailgun:
    world.loaded = mailgun_config(world)
    return FakeMailgun(world)


async def sent_story(world: World, *readers: str) -> tuple[dict[str, int], dict[str, Any]]:
    """Readers' ids, and per reader the envelope sender and Message-ID their copy went with."""
    ids = await world.subscribe(*readers)
    message, context = await world.story()
    await world.adapter().send(message, context)
    copies = {
        m.rcpt_to[0]: {"sender": m.mail_from, "message_id": str(m.message["Message-ID"])}
        for m in world.smtp.messages
    }
    return ids, copies


async def post(client: httpx.AsyncClient, body: bytes) -> httpx.Response:
    return await client.post(PATH, content=body, headers={"content-type": "application/json"})


async def test_signed_events_suppress_the_reader_they_name(
    world: World, mailgun: FakeMailgun, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids, copies = await sent_story(
        world, "gone@example.net", "angry@example.com", "leaving@example.org", "fine@example.org"
    )

    def of(address: str) -> tuple[str, str]:
        return copies[address]["sender"], copies[address]["message_id"]

    sender, message_id = of("gone@example.net")
    hard = failed("permanent", "gone@example.net", sender, message_id)
    # Mailgun reports a Message-ID without its angle brackets.
    angry_id = of("angry@example.com")[1].strip("<>")
    angry = complaint_or_unsubscribe("complained", "Angry@Example.com", angry_id)
    leaving = of("leaving@example.org")[1]
    unsubscribe = complaint_or_unsubscribe("unsubscribed", "leaving@example.org", leaving)
    fine_sender, fine_id = of("fine@example.org")
    ignored = [
        {**failed("permanent", "fine@example.org", fine_sender, fine_id), "event": "delivered"},
        {"event": "opened", "recipient": "fine@example.org"},
        # Another reader's address with fine's Message-ID: not believed.
        complaint_or_unsubscribe("complained", "gone@example.net", fine_id),
        # A bounce address whose MAC is not ours, and no Message-ID of ours.
        failed(
            "permanent",
            "fine@example.org",
            fine_sender[:-20] + "aaaaaaa@news.example.org",
            "<1234.5678@mailgun.example>",
        ),
    ]
    # A subaccount's webhook: its own key signs, and ours as the primary account's.
    subaccount = FakeMailgun(world, key="key-subaccount-9e8d7c6b5a4f3e2d1c0b")
    async with web_client(world) as client:
        for event in (hard, angry, *ignored):
            response = await post(client, mailgun.body(event))
            assert (response.status_code, response.text) == (200, "ok"), event
        response = await post(client, subaccount.body(unsubscribe, parent_key=KEY))
        assert response.status_code == 200
    found = await statuses(world.store)
    assert found["gone@example.net"] == ("bounced", "bounced: Mailgun: 5.1.1 No such user")
    assert found["angry@example.com"] == ("unsubscribed", "spam complaint (Mailgun)")
    assert found["leaving@example.org"] == ("unsubscribed", "unsubscribed through Mailgun")
    assert found["fine@example.org"] == ("confirmed", None)
    async with world.store.session() as session:
        events = list(await session.scalars(select(BounceEvent)))
        ledger = dict(
            (await session.execute(select(EmailSend.subscriber_id, EmailSend.status))).all()
        )
    assert {(e.subscriber_id, e.kind, e.source) for e in events} == {
        (ids["gone@example.net"], "hard", "mailgun"),
        (ids["angry@example.com"], "complaint", "mailgun"),
        (ids["leaving@example.org"], "unsubscribe", "mailgun"),
    }
    assert {e.article_id for e in events} == {1}  # the story each came from
    # The bounce means the story never arrived; the complaint means it did.
    assert ledger[ids["gone@example.net"]] == SendStatus.BOUNCED
    assert ledger[ids["angry@example.com"]] == SendStatus.SENT
    assert await counts(world.store, "daily") == {
        "hard": 1,
        "soft": 0,
        "complaint": 1,
        "unsubscribe": 1,
    }
    monkeypatch.setenv(KEY_VARIABLE, KEY)
    command = ["subscribers", "list", "-c", str(world.tmp_path / "mailgun.yaml")]
    result = await asyncio.to_thread(CliRunner().invoke, main, command)
    assert result.exit_code == 0, result.output
    assert "gone@example.net  bounced" in result.output
    assert "bounces: 1 hard, 0 soft; complaints: 1; unsubscribed by mail: 1" in result.output


async def test_temporary_failures_suppress_after_n_in_m_days(world: World) -> None:
    world.loaded = mailgun_config(world, soft_limit=2, soft_days=7)
    mailgun = FakeMailgun(world)
    ids, copies = await sent_story(world, "full@example.com")
    sender, message_id = (
        copies["full@example.com"]["sender"],
        copies["full@example.com"]["message_id"],
    )
    soft = failed("temporary", "full@example.com", sender, message_id)
    async with web_client(world) as client:
        assert (await post(client, mailgun.body(soft))).status_code == 200
        world.clock.advance(days=8)  # the first one is now too old to count
        assert (await post(client, mailgun.body(soft))).status_code == 200
        assert (await statuses(world.store))["full@example.com"][0] == "confirmed"
        world.clock.advance(days=6)
        assert (await post(client, mailgun.body(soft))).status_code == 200
    status, why = (await statuses(world.store))["full@example.com"]
    assert status == "bounced"
    assert why == "bounced: 2 soft bounces in 7 days, the last: Mailgun: 4.2.2 Mailbox full"
    assert (await counts(world.store, "daily"))["soft"] == 3
    assert ids["full@example.com"]


async def test_forged_stale_and_replayed_webhooks_are_refused(
    world: World, mailgun: FakeMailgun, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="distributor.email")
    _ids, copies = await sent_story(world, "reader@example.org")
    sender, message_id = (
        copies["reader@example.org"]["sender"],
        copies["reader@example.org"]["message_id"],
    )
    event = failed("permanent", "reader@example.org", sender, message_id)
    other_key = FakeMailgun(world, key="key-somebody-else-0123456789abcdef")
    answers = []
    async with web_client(world) as client:
        # Signed with another key; a signature moved onto another token.
        answers.append((await post(client, other_key.body(event))).status_code)
        moved = json.loads(mailgun.body(event))
        moved["signature"]["token"] = secrets.token_hex(25)
        answers.append((await post(client, json.dumps(moved).encode())).status_code)
        # Neither the signature nor the parent signature is made with our key.
        parented = other_key.body(event, parent_key="key-a-third-account-0123456789")
        answers.append((await post(client, parented)).status_code)
        # Signed correctly, but more than five minutes old, or from the future.
        answers.append((await post(client, mailgun.body(event, age_seconds=301))).status_code)
        answers.append((await post(client, mailgun.body(event, age_seconds=-301))).status_code)
        assert (await statuses(world.store))["reader@example.org"][0] == "confirmed"
        # A good one, acted on once; the same request again is a replay.
        good = mailgun.body(
            complaint_or_unsubscribe("complained", "reader@example.org", message_id)
        )
        first = await post(client, good)
        replay = await post(client, good)
        # Within the tolerance a signature just under five minutes old still passes.
        late = mailgun.body({"event": "delivered"}, age_seconds=299)
        late_answer = await post(client, late)
        responses = [first.text, replay.text, late_answer.text]
    assert answers == [403, 403, 403, 403, 403]
    assert (first.status_code, replay.status_code, late_answer.status_code) == (200, 406, 200)
    assert (await counts(world.store, "daily"))["complaint"] == 1
    assert (await statuses(world.store))["reader@example.org"][0] == "unsubscribed"
    logged = caplog.text
    assert "the signature does not verify" in logged
    assert "the timestamp is 301 s from now" in logged
    assert "the timestamp is -301 s from now" in logged
    assert "a replay" in logged
    assert "delivered event: nothing to act on" in logged
    assert KEY not in logged and all(KEY not in text for text in responses)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"{not json", "the body is not JSON"),
        (b"[1, 2]", "the body is not a JSON object"),
        (b'{"event-data": {"event": "failed"}}', "`signature` is missing"),
        (
            b'{"signature": {"timestamp": "1", "signature": "' + b"a" * 64 + b'"}, '
            b'"event-data": {"event": "failed"}}',
            "`signature.token` is missing",
        ),
        (
            b'{"signature": {"timestamp": "soon", "token": "t", "signature": "x"}}',
            "`signature.timestamp` is missing or not a number",
        ),
        (
            b'{"signature": {"timestamp": "1", "token": "t", "signature": "zz"}}',
            "`signature.signature` is missing or not 64 hexadecimal digits",
        ),
        (
            b'{"signature": {"timestamp": "1", "token": "t", "signature": "' + b"a" * 64 + b'"}}',
            "`event-data` is missing",
        ),
        (
            b'{"signature": {"timestamp": "1", "token": "t", "signature": "' + b"a" * 64 + b'"}, '
            b'"event-data": {"event": "failed", "severity": "maybe"}}',
            "`event-data.severity` of a failed event is not permanent or temporary",
        ),
    ],
)
async def test_a_malformed_webhook_gets_400_naming_what_is_wrong(
    world: World, mailgun: FakeMailgun, body: bytes, why: str
) -> None:
    async with web_client(world) as client:
        response = await post(client, body)
        # The service goes on: the next good webhook is handled.
        after = await post(client, mailgun.body({"event": "delivered"}))
    assert response.status_code == 400
    assert why in response.text
    assert after.status_code == 200


@pytest.fixture
async def shared_redis(redis_url: str) -> AsyncIterator[str]:
    """The test Redis without remembered webhook tokens (test databases, and keys, are reused)."""

    async def forget() -> None:
        client = redis.asyncio.Redis.from_url(redis_url)
        try:
            async for key in client.scan_iter(match="*mailgun-tokens*"):
                await client.delete(key)
        finally:
            await client.aclose()

    await forget()
    yield redis_url
    await forget()


async def test_with_redis_every_web_process_refuses_a_replay(
    world: World, shared_redis: str
) -> None:
    world.loaded = mailgun_config(world, redis_url=shared_redis)
    mailgun = FakeMailgun(world)
    _ids, copies = await sent_story(world, "reader@example.org")
    message_id = copies["reader@example.org"]["message_id"]
    body = mailgun.body(complaint_or_unsubscribe("complained", "reader@example.org", message_id))
    # Two web processes: each its own application, counters and Redis connections.
    async with web_client(world) as first, web_client(world) as second:
        accepted = await post(first, body)
        replayed = await post(second, body)
        fresh = await post(second, mailgun.body({"event": "delivered"}))
    assert (accepted.status_code, replayed.status_code, fresh.status_code) == (200, 406, 200)
    assert (await counts(world.store, "daily"))["complaint"] == 1


async def test_a_store_failure_answers_500_and_mailguns_retry_is_accepted(
    world: World, mailgun: FakeMailgun
) -> None:
    _ids, copies = await sent_story(world, "reader@example.org")
    message_id = copies["reader@example.org"]["message_id"]
    body = mailgun.body(complaint_or_unsubscribe("complained", "reader@example.org", message_id))

    async def rename(old: str, new: str) -> None:
        async with world.store.session() as session, session.begin():
            await session.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))

    async with web_client(world) as client:
        await rename("email_bounces", "email_bounces_away")  # the store cannot record events
        failed_answer = await post(client, body)
        await rename("email_bounces_away", "email_bounces")
        retried = await post(client, body)  # Mailgun retries the same webhook
        again = await post(client, body)
    assert (failed_answer.status_code, retried.status_code, again.status_code) == (500, 200, 406)
    assert (await statuses(world.store))["reader@example.org"][0] == "unsubscribed"
    assert (await counts(world.store, "daily"))["complaint"] == 1
