"""Email digests: one newsletter per window, mailed to each reader at most once.

The digest goes through the core's digest runner (``Digests``), the real email adapter and a
real SMTP server; the clock is the injected one (29 November 2026, 09:00 UTC), the digest is
scheduled at 07:00 daily, so the first window runs from 07:00 to the moment it is sent.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import dkim
import pytest
import pytest_asyncio
from sqlalchemy import select

from distributor.digests import DigestOutcome, Digests
from distributor.ledger import Ledger
from distributor.models import DigestRun, DigestStatus
from distributor.send_context import SendContext
from distributor.store import Store
from distributor.types import DeliveryTicket
from distributor_channels.email.links import Links
from distributor_channels.email.models import SendStatus, SubscriberStatus
from distributor_channels.email.sendlog import DIGESTS, SendLog
from distributor_channels.email.verp import BounceTokens
from tests.conftest import FakeClock
from tests.email.test_message import dkim_key  # noqa: F401  (a session fixture)
from tests.email.test_resume import _job, _single_connection, _spawn, assert_each_once
from tests.email.world import SECRET, World
from tests.fakes.smtp import FakeSMTP, Received
from tests.helpers import draft

DIGEST = {"schedule": "0 7 * * *", "title": "Morning briefing", "mode": "digest"}


@pytest_asyncio.fixture
async def digest_world(
    store: Store, store_url: str, smtp_server: FakeSMTP, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[World]:
    """The list "daily" with a morning digest, in French."""
    async with World.open(
        store, store_url, smtp_server, clock, tmp_path, digest=DIGEST, language="fr"
    ) as made:
        yield made


async def queue(world: World, n: int, *, tags: Sequence[str] = (), priority: int = 0) -> None:
    await world.store.add_article(
        draft(n, publish_at=world.clock(), tags=tuple(tags), priority=priority)
    )
    await Ledger(world.store).route_due(world.loaded.app.channels)


def runner(world: World, **adapter: Any) -> Digests:
    return Digests(
        world.loaded.app,
        world.store,
        {"newsletter": world.adapter(**adapter)},
        world.loaded.renderer(),
        owner="worker-1",
    )


async def send_now(world: World, **adapter: Any) -> DigestOutcome:
    world.clock.advance(minutes=5)
    return await runner(world, **adapter).send_now(world.channel)


async def digest_rows(world: World) -> list[DigestRun]:
    async with world.store.session() as session:
        return list((await session.scalars(select(DigestRun).order_by(DigestRun.id))).all())


def text_part(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def html_part(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


async def test_a_digest_mail_lists_the_stories_with_each_readers_unsubscribe_link(
    digest_world: World,
) -> None:
    world = digest_world
    ids = await world.subscribe("ada@example.org", "bob@example.org")
    await queue(world, 1)
    await queue(world, 2, priority=5)

    outcome = await send_now(world)

    assert (outcome.status, outcome.items) == ("sent", 2)
    (row,) = await digest_rows(world)
    assert row.refs == [
        {"target": "daily", "message_id": f"d{row.id}.daily@news.example.org", "kind": "email"}
    ]
    links = Links(world.loaded.app.web)
    assert sorted(world.smtp.per_recipient().items()) == [
        ("ada@example.org", 1),
        ("bob@example.org", 1),
    ]
    for address, sid in ids.items():
        (received,) = world.smtp.to(address)
        mail = received.message
        unsubscribe = links.unsubscribe("daily", sid, address)
        assert mail["Subject"] == "Morning briefing"
        assert mail["To"] == address
        assert mail["Message-ID"] == f"<d{row.id}.daily.r{sid}@news.example.org>"
        assert mail["List-Id"] == world.channel.list_id
        assert mail["List-Unsubscribe"] == f"<{unsubscribe}>"
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert mail["Content-Language"] == "fr"
        assert "In-Reply-To" not in mail
        text, html = text_part(mail), html_part(mail)
        # Priority first: story 2 before story 1, each with its link and one-line summary.
        assert text.index("Story 2") < text.index("Story 1")
        for n in (1, 2):
            assert f"https://news.example.org/story-{n}" in text
            assert f'href="https://news.example.org/story-{n}"' in html
        assert "First sentence of the story." in text
        # The footer, in the list's language, with this reader's own link in both parts.
        assert f"Se désabonner ou modifier vos préférences: {unsubscribe}" in text
        assert f'href="{unsubscribe}"' in html
        assert "Vous recevez ce message car vous êtes abonné·e à Daily News." in text


async def test_a_digest_is_signed_and_carries_a_verp_return_path_like_a_story(
    store: Store,
    store_url: str,
    smtp_server: FakeSMTP,
    clock: FakeClock,
    tmp_path: Path,
    dkim_key: tuple[Path, bytes],  # noqa: F811
) -> None:
    key, record = dkim_key
    async with World.open(
        store,
        store_url,
        smtp_server,
        clock,
        tmp_path,
        digest=DIGEST,
        dkim={"selector": "news2026", "private_key_file": str(key)},
        bounces={
            "address": "bounces@news.example.org",
            "ses": {"topic_arns": ["arn:aws:sns:eu-west-1:123456789012:bounces"]},
        },
    ) as world:
        ids = await world.subscribe("ada@example.org")
        await queue(world, 1)
        assert (await send_now(world)).status == "sent"
    (received,) = smtp_server.messages
    assert dkim.verify(received.data, dnsfunc=lambda _name, timeout=5: record)
    # The bounce address names the reader and no story: a digest's bounce suppresses the
    # reader without being counted against a story.
    tag = BounceTokens(SECRET).parse(received.mail_from)
    assert tag is not None
    assert (tag.list_name, tag.subscriber_id, tag.article_id) == (
        "daily",
        ids["ada@example.org"],
        None,
    )


async def test_left_and_bounced_readers_and_other_topics_get_no_digest(
    digest_world: World,
) -> None:
    world = digest_world
    await world.subscribe("all@example.org")
    await world.subscribe("politics@example.org", topics=["politics"])
    await world.subscribe("sport@example.org", topics=["sport"])
    await world.subscribe("gone@example.org", status=SubscriberStatus.UNSUBSCRIBED)
    await world.subscribe("bounced@example.org", status=SubscriberStatus.BOUNCED)
    await world.subscribe("pending@example.org", status=SubscriberStatus.PENDING)
    await queue(world, 1, tags=["Politics"])
    await queue(world, 2)

    assert (await send_now(world)).status == "sent"

    assert sorted(world.smtp.per_recipient()) == ["all@example.org", "politics@example.org"]
    # The politics reader gets the whole digest: it is one newsletter for everybody.
    (mail,) = world.smtp.to("politics@example.org")
    assert "Story 2" in text_part(mail.message)


async def test_a_deferred_reader_who_leaves_before_the_retry_is_skipped(
    digest_world: World,
) -> None:
    world = digest_world
    readers = [f"r{i:02d}@example.org" for i in range(6)]
    await world.subscribe(*readers)
    await queue(world, 1)
    world.smtp.script_rcpt("r05@example.org", "451 4.2.2 Mailbox full, try later")

    first = await send_now(world)

    assert first.status == "pending" and "so far 5 of 6 sent, 1 deferred" in str(first.error)
    assert "r05@example.org" not in world.smtp.per_recipient()
    await world.subscribe("r05@example.org", status=SubscriberStatus.UNSUBSCRIBED)
    outcomes = await runner(world).run_due()  # the digest is retried, for r05 alone
    assert [o.status for o in outcomes] == ["sent"]
    assert_each_once(world, readers[:5])
    (row,) = await digest_rows(world)
    counts = await SendLog(world.store, row.id, "t", ledger=DIGESTS).counts()
    assert counts == {SendStatus.SENT: 5, SendStatus.SKIPPED: 1}


async def test_an_empty_window_is_skipped_or_mailed_to_every_reader(
    store: Store, store_url: str, smtp_server: FakeSMTP, clock: FakeClock, tmp_path: Path
) -> None:
    async with World.open(store, store_url, smtp_server, clock, tmp_path, digest=DIGEST) as world:
        await world.subscribe("all@example.org")
        await world.subscribe("sport@example.org", topics=["sport"])
        skipped = await send_now(world)
        assert (skipped.status, skipped.items) == ("empty", 0)
        assert smtp_server.messages == []

    async with World.open(
        store, store_url, smtp_server, clock, tmp_path, digest={**DIGEST, "empty": "post"}
    ) as world:
        posted = await send_now(world)
    assert (posted.status, posted.items) == ("sent", 0)
    # An empty digest is the list's scheduled mail: every reader gets it, topics or not.
    assert sorted(smtp_server.per_recipient()) == ["all@example.org", "sport@example.org"]
    text = text_part(smtp_server.messages[0].message)
    assert "Nothing new since the last digest." in text


async def test_a_digest_cancelled_mid_send_resumes_and_mails_nobody_twice(
    digest_world: World,
) -> None:
    world = digest_world
    readers = [f"r{i:03d}@example.org" for i in range(30)]
    await world.subscribe(*readers)
    await queue(world, 1)
    loop = asyncio.get_running_loop()
    seventh = asyncio.Event()

    def on_message(_received: Received, count: int) -> None:
        if count == 7:
            loop.call_soon_threadsafe(seventh.set)

    world.smtp.on_message = on_message
    task = asyncio.create_task(send_now(world, connections=4, rate_per_second=20))
    await seventh.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    first_run = len(world.smtp.messages)
    assert 7 <= first_run < len(readers)
    (row,) = await digest_rows(world)
    assert row.status == DigestStatus.SENDING  # its worker is gone; the lease says until when

    # Another worker takes the digest over once the lease has expired.
    world.smtp.on_message = None
    world.clock.advance(seconds=world.loaded.app.dispatch.lease_seconds + 1)
    outcomes = await runner(world).run_due()
    assert [(o.status, o.items) for o in outcomes] == [("sent", 1)]
    assert_each_once(world, readers)
    counts = await SendLog(world.store, row.id, "t", ledger=DIGESTS).counts()
    assert counts == {SendStatus.SENT: len(readers)}


async def test_a_process_killed_after_a_digests_final_dot_does_not_mail_that_reader_again(
    digest_world: World, tmp_path: Path
) -> None:
    world = digest_world
    readers = [f"reader{i:02d}@example.org" for i in range(10)]
    await world.subscribe(*readers)
    await queue(world, 1)
    digests = runner(world)
    world.clock.advance(minutes=5)
    start, _ = await digests.next_window(world.channel)
    view, message = await digests.build(world.channel, start, world.clock())
    assert message is not None and len(view.items) == 1
    async with world.store.session() as session, session.begin():
        row = DigestRun(
            channel="newsletter",
            window_start=start,
            window_end=world.clock(),
            status=DigestStatus.SENDING,
            created_at=world.clock(),
            updated_at=world.clock(),
        )
        session.add(row)
        await session.flush()
        digest_id = row.id
    ticket = DeliveryTicket(
        delivery_id=digest_id, article_id=0, channel="newsletter", version=1, attempt=1
    )
    context = SendContext(ticket)
    job = _job(tmp_path, message, context)
    config = _single_connection(world, tmp_path)
    victim: dict[str, int] = {}

    def kill_at_fourth(_received: Received, count: int) -> None:
        if count == 4:  # the server has the message and is about to answer 250
            os.kill(victim["pid"], signal.SIGKILL)

    world.smtp.on_message = kill_at_fourth
    proc = await _spawn(config, job)
    victim["pid"] = proc.pid
    _out, err = await proc.communicate()
    assert proc.returncode == -signal.SIGKILL, err.decode()
    assert len(world.smtp.messages) == 4

    world.smtp.on_message = None
    result = await world.adapter().send(message, context)
    assert result.note.startswith(f"{len(readers)} of {len(readers)} sent")
    assert_each_once(world, readers)
    # Each reader's copy keeps its Message-ID across the crash.
    ids = {m.message["Message-ID"] for m in world.smtp.messages}
    assert all(re.fullmatch(rf"<d{digest_id}\.daily\.r\d+@news\.example\.org>", i) for i in ids)
    assert len(ids) == len(readers)


async def test_the_next_digest_lists_only_what_came_after_the_previous_one(
    digest_world: World,
) -> None:
    world = digest_world
    await world.subscribe("ada@example.org")
    await queue(world, 1)
    assert (await send_now(world)).status == "sent"
    await queue(world, 2)
    world.clock.advance(days=1)  # past tomorrow's 07:00: the scheduled window closes
    outcomes = await runner(world).run_due()
    assert [(o.status, o.items) for o in outcomes] == [("sent", 1)]
    first, second = (text_part(m.message) for m in world.smtp.to("ada@example.org"))
    assert "Story 1" in first and "Story 2" not in first
    assert "Story 2" in second and "Story 1" not in second
    assert timedelta(days=1) > world.clock() - (await digest_rows(world))[-1].window_end


async def test_a_digest_template_without_the_unsubscribe_link_fails_the_digest_and_mails_nobody(
    store: Store, store_url: str, smtp_server: FakeSMTP, clock: FakeClock, tmp_path: Path
) -> None:
    own = tmp_path / "templates" / "email"
    own.mkdir(parents=True)
    (own / "digest.txt.j2").write_text("{{ title }}\n", encoding="utf-8")
    async with World.open(store, store_url, smtp_server, clock, tmp_path, digest=DIGEST) as world:
        await world.subscribe("ada@example.org")
        await queue(world, 1)
        outcome = await send_now(world)
    assert outcome.status == "failed"
    assert "must show {{ unsubscribe_url }}" in str(outcome.error)
    assert smtp_server.messages == []
