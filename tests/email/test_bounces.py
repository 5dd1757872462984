"""Bounces and complaints that arrive after the send, read from a real IMAP server (Dovecot).

A story goes out through the adapter with a Return-Path per reader; the mails that come back
(Postfix, Exim and Gmail bounces, a Yahoo-style complaint, an unsubscribe by mail) are put in
the bounce folder on Dovecot, and the mailbox reader acts on each.
"""

from __future__ import annotations

import asyncio
import imaplib
import re
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from distributor.cli import main
from distributor.store import Store
from distributor_channels.email.bounce_reader import BounceHandler, MailboxReader
from distributor_channels.email.models import (
    BounceEvent,
    EmailSend,
    SendStatus,
    Subscriber,
    SubscriberStatus,
)
from distributor_channels.email.suppression import counts
from distributor_channels.email.verp import BounceTokens
from tests.email import bounce_mail
from tests.email.dovecot import Dovecot, dovecot_path
from tests.email.world import SECRET, World

UNSUBSCRIBE_MAILTO = "unsubscribe@news.example.org"


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    if dovecot_path() is None:
        pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd)")
    with Dovecot.start() as server:
        yield server


def bounce_settings(server: Dovecot, **extra: Any) -> dict[str, Any]:
    return {
        "address": "bounces@news.example.org",
        "imap": {
            "host": "127.0.0.1",
            "port": server.port,
            "security": "none",
            "username": server.user,
            "password": server.password,
            "poll_seconds": 1,
        },
        **extra,
    }


def deliver(server: Dovecot, *mails: bytes) -> None:
    """What the mail server does when a bounce arrives: put it in the folder."""
    client = imaplib.IMAP4("127.0.0.1", server.port)
    try:
        client.login(server.user, server.password)
        for mail in mails:
            assert client.append("INBOX", None, None, mail)[0] == "OK"
    finally:
        client.logout()


def folder_size(server: Dovecot) -> int:
    client = imaplib.IMAP4("127.0.0.1", server.port)
    try:
        client.login(server.user, server.password)
        _, data = client.select("INBOX")
        return int(data[0] or 0)
    finally:
        client.logout()


async def statuses(store: Store) -> dict[str, tuple[str, str | None]]:
    async with store.session() as session:
        rows = await session.scalars(select(Subscriber))
        return {r.address: (r.status, r.last_error) for r in rows}


async def test_every_bounce_maps_to_one_reader_and_story_and_suppresses(
    world: World, dovecot: Dovecot
) -> None:
    world.loaded = reconfigured(world, bounces=bounce_settings(dovecot))
    ids = await world.subscribe(
        "gone@example.net", "nobody@gmail.example", "full@example.com", "angry@yahoo.example",
        "leaving@example.org", "fine@example.org",
    )  # fmt: skip
    message, context = await world.story()
    await world.adapter().send(message, context)
    # Each message went out with its own signed Return-Path naming the reader and the story.
    paths = {m.rcpt_to[0]: m.mail_from for m in world.smtp.messages}
    tokens = BounceTokens(SECRET)
    for address, path in paths.items():
        assert path.startswith("bounces+daily.") and path.endswith("@news.example.org")
        tag = tokens.parse(path)
        assert tag is not None
        assert (tag.list_name, tag.subscriber_id, tag.article_id) == (
            "daily",
            ids[address],
            context.article_id,
        )
    article = context.article_id

    def args(address: str) -> tuple[str, str, int, int, str]:
        unsubscribe = re.search(
            rb"List-Unsubscribe: <([^>]+)>",
            next(m.data for m in world.smtp.messages if m.rcpt_to[0] == address),
        )
        assert unsubscribe is not None
        return paths[address], address, article, ids[address], unsubscribe[1].decode()

    forged = paths["fine@example.org"][:-20] + "aaaaaaa@news.example.org"
    deliver(
        dovecot,
        bounce_mail.postfix_hard(*args("gone@example.net")),
        bounce_mail.gmail_hard(*args("nobody@gmail.example")),
        bounce_mail.exim_soft(*args("full@example.com")),
        bounce_mail.yahoo_complaint(None, *args("angry@yahoo.example")[1:]),
        bounce_mail.unsubscribe_request("Leaving@Example.org", UNSUBSCRIBE_MAILTO),
        bounce_mail.auto_reply(paths["fine@example.org"]),
        bounce_mail.postfix_hard(forged, *args("fine@example.org")[1:]),
    )
    reader = MailboxReader(world.channel, world.loaded.app, world.store)
    report = await reader.poll_once()
    assert (report.read, report.handled) == (7, 7)
    assert folder_size(dovecot) == 0  # handled mails are deleted: each acts once
    found = await statuses(world.store)
    assert found["gone@example.net"][0] == SubscriberStatus.BOUNCED
    assert "5.1.1" in (found["gone@example.net"][1] or "")
    assert found["nobody@gmail.example"][0] == SubscriberStatus.BOUNCED
    assert found["full@example.com"][0] == SubscriberStatus.CONFIRMED  # one soft bounce
    assert found["angry@yahoo.example"] == (
        SubscriberStatus.UNSUBSCRIBED,
        "spam complaint (ARF, abuse)",
    )
    assert found["leaving@example.org"] == (SubscriberStatus.UNSUBSCRIBED, "unsubscribed by mail")
    assert found["fine@example.org"][0] == SubscriberStatus.CONFIRMED  # forged, auto-reply
    async with world.store.session() as session:
        events = list(await session.scalars(select(BounceEvent)))
    by_reader = {e.subscriber_id: e for e in events}
    assert by_reader[ids["gone@example.net"]].article_id == article
    assert by_reader[ids["full@example.com"]].kind == "soft"
    assert ids["fine@example.org"] not in by_reader
    assert await counts(world.store, "daily") == {
        "hard": 2,
        "soft": 1,
        "complaint": 1,
        "unsubscribe": 1,
    }
    # The story's ledger says who never got it: bounced rows, the bounce's reason on each.
    async with world.store.session() as session:
        rows = await session.execute(
            select(EmailSend.subscriber_id, EmailSend.status, EmailSend.last_error)
        )
        ledger = {sid: (status, why) for sid, status, why in rows.all()}
    for address in ("gone@example.net", "nobody@gmail.example", "full@example.com"):
        status, why = ledger[ids[address]]
        assert status == SendStatus.BOUNCED and (why or "").startswith("bounced after the send")
    for address in ("angry@yahoo.example", "leaving@example.org", "fine@example.org"):
        assert ledger[ids[address]][0] == SendStatus.SENT  # delivered, whatever came after
    # Suppressed readers are never mailed again.
    before = len(world.smtp.messages)
    message, context = await world.story(2)
    await world.adapter().send(message, context)
    assert sorted(m.rcpt_to[0] for m in world.smtp.messages[before:]) == [
        "fine@example.org",
        "full@example.com",
    ]


async def test_soft_bounces_suppress_after_n_in_m_days(world: World, dovecot: Dovecot) -> None:
    world.loaded = reconfigured(world, bounces=bounce_settings(dovecot, soft_limit=2, soft_days=7))
    ids = await world.subscribe("full@example.com")
    handler = BounceHandler(world.loaded.app, world.store, "imap")
    tokens = BounceTokens(SECRET)

    def soft(article: int) -> bytes:
        path = tokens.address("bounces@news.example.org", "daily", ids["full@example.com"], article)
        return bounce_mail.exim_soft(
            path, "full@example.com", article, 1, "https://x/unsubscribe/t"
        )

    await handler.handle_mail(soft(1))
    world.clock.advance(days=8)  # the first one is now too old to count
    await handler.handle_mail(soft(2))
    assert (await statuses(world.store))["full@example.com"][0] == SubscriberStatus.CONFIRMED
    world.clock.advance(days=6)
    (applied,) = await handler.handle_mail(soft(3))
    assert applied.suppressed
    status, why = (await statuses(world.store))["full@example.com"]
    assert status == SubscriberStatus.BOUNCED
    assert why is not None and why.startswith("bounced: 2 soft bounces in 7 days")
    # The admin sees why, and the list's counts.
    command = ["subscribers", "list", "-c", str(world.tmp_path / "bounces.yaml")]
    result = await asyncio.to_thread(CliRunner().invoke, main, command)
    assert result.exit_code == 0, result.output
    assert "full@example.com  bounced" in result.output
    assert "— bounced: 2 soft bounces in 7 days" in result.output
    assert "bounces: 0 hard, 3 soft; complaints: 0; unsubscribed by mail: 0" in result.output


async def test_the_mailbox_is_read_on_a_schedule_while_the_adapter_runs(
    world: World, dovecot: Dovecot
) -> None:
    world.loaded = reconfigured(world, bounces=bounce_settings(dovecot))
    await world.subscribe("leaving@example.org")
    deliver(dovecot, bounce_mail.unsubscribe_request("leaving@example.org", UNSUBSCRIBE_MAILTO))
    adapter = world.adapter()
    await adapter.start()
    try:
        for _ in range(200):  # a condition, not a duration: the first poll runs at start
            if (await statuses(world.store))["leaving@example.org"][0] != "confirmed":
                break
            await asyncio.sleep(0.05)
    finally:
        await adapter.aclose()
    assert (await statuses(world.store))["leaving@example.org"][0] == "unsubscribed"


async def test_a_wrong_imap_password_is_reported_without_it(world: World, dovecot: Dovecot) -> None:
    settings = bounce_settings(dovecot)
    settings["imap"]["password"] = "wrong-password-7f3e"
    world.loaded = reconfigured(world, bounces=settings)
    reader = MailboxReader(world.channel, world.loaded.app, world.store)
    from distributor_channels.email.imap import ImapError

    with pytest.raises(ImapError, match="refused the login") as caught:
        await reader.poll_once()
    assert "wrong-password" not in str(caught.value)


def reconfigured(world: World, **changes: Any) -> Any:
    from tests.email.world import email_config
    from tests.helpers import write_config

    data = email_config(
        world.loaded.app.store.url,
        world.tmp_path,
        world.smtp,
        unsubscribe_mailto=UNSUBSCRIBE_MAILTO,
        **changes,
    )
    return write_config(world.tmp_path, data, name="bounces.yaml")
