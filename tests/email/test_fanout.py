"""The fan-out: a story to a list over a real SMTP server, recorded per reader."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from distributor import errors
from distributor.dispatch import Dispatcher
from distributor.models import DeliveryStatus
from distributor_channels.email.config import SmtpConfig
from distributor_channels.email.models import SendStatus, SubscriberStatus
from distributor_channels.email.sendlog import SendLog
from distributor_channels.email.subscribers import Subscribers
from tests.email.world import Progress, World
from tests.fakes.smtp import FakeSMTP, Received, free_port

AUTH_WITHOUT_TLS = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


async def test_a_story_reaches_only_readers_whose_topics_match(world: World) -> None:
    await world.subscribe("all@example.org")
    await world.subscribe("pol@example.org", topics=["politics"])
    await world.subscribe("sport@example.org", topics=["sport"])
    await world.subscribe("culture-pol@example.org", topics=["culture", "politics"])
    await world.subscribe("waiting@example.org", status=SubscriberStatus.PENDING)
    await world.subscribe("gone@example.org", status=SubscriberStatus.UNSUBSCRIBED)
    message, context = await world.story(tags=["Politics", "local"])
    result = await world.adapter().send(message, context)
    assert world.smtp.per_recipient() == {
        "all@example.org": 1,
        "pol@example.org": 1,
        "culture-pol@example.org": 1,
    }
    assert result.note == "3 of 3 sent"
    (ref,) = result.refs
    assert (ref.target, ref.kind) == ("daily", "email")
    assert ref.message_id == f"a{context.article_id}.daily@news.example.org"
    received = world.smtp.to("pol@example.org")[0]
    assert received.mail_from == "news@news.example.org"
    assert received.message["To"] == "pol@example.org"


async def test_each_reader_gets_an_own_message_id_and_unsubscribe_link(world: World) -> None:
    ids = await world.subscribe("a@example.org", "b@example.org")
    message, context = await world.story()
    await world.adapter().send(message, context)
    seen = {}
    for address, sid in ids.items():
        parsed = world.smtp.to(address)[0].message
        assert parsed["Message-ID"] == f"<a{context.article_id}.daily.r{sid}@news.example.org>"
        link = parsed["List-Unsubscribe"].strip("<>")
        assert link.startswith(f"https://news.example.org/unsubscribe/daily.{sid}.")
        text_part = parsed.get_body(("plain",))
        html_part = parsed.get_body(("html",))
        assert text_part is not None and html_part is not None
        assert link in text_part.get_content() and link in html_part.get_content()
        seen[address] = link
    assert seen["a@example.org"] != seen["b@example.org"]


async def test_a_dispatched_story_goes_out_once_with_progress(world: World) -> None:
    await world.subscribe(*(f"r{i}@example.org" for i in range(5)))
    await world.subscribe("sport@example.org", topics=["sport"])
    progress = Progress()
    adapter = world.adapter(progress)
    dispatcher = Dispatcher(
        app=world.loaded.app, store=world.store, adapters={"newsletter": adapter}, owner="w1"
    )
    _message, context = await world.story(tags=["culture"])
    report = await dispatcher.run_until_idle()
    assert report.done == 1
    assert len(world.smtp.messages) == 5
    (delivery,) = await world.store.deliveries_for([context.article_id])
    assert delivery.status == DeliveryStatus.SENT
    assert progress.updates[-1] == ("newsletter", context.key, 5, 5)
    # Routing the same story again (a second tick) mails nobody a second time.
    await dispatcher.run_until_idle()
    assert len(world.smtp.messages) == 5


async def test_a_refused_reader_is_bounced_and_never_mailed_again(world: World) -> None:
    ids = await world.subscribe("ok@example.org", "nobody@example.org", "ok2@example.org")
    world.smtp.refuse("nobody@example.org", "550 5.1.1 <nobody@example.org>: no such user")
    message, context = await world.story(1)
    result = await world.adapter().send(message, context)
    assert result.note == "2 of 3 sent, 1 bounced"
    assert sorted(world.smtp.per_recipient()) == ["ok2@example.org", "ok@example.org"]
    reader = await Subscribers(world.store).get(ids["nobody@example.org"])
    assert reader is not None and reader.status == SubscriberStatus.BOUNCED
    assert reader.last_error is not None and "550" in reader.last_error

    message, context = await world.story(2)
    await world.adapter().send(message, context)
    assert world.smtp.rcpt_attempts("nobody@example.org") == 1
    assert world.smtp.per_recipient() == {"ok@example.org": 2, "ok2@example.org": 2}


async def test_a_deferred_reader_is_retried_later_and_only_they_are(world: World) -> None:
    await world.subscribe("a@example.org", "slow@example.org", "b@example.org")
    world.smtp.script_rcpt("slow@example.org", "451 4.7.1 Greylisted, try again later")
    message, context = await world.story()
    with pytest.raises(errors.TransientDeliveryError, match=r"1 reader\(s\) deferred") as caught:
        await world.adapter().send(message, context)
    assert "2 of 3 sent" in str(caught.value)
    assert sorted(world.smtp.per_recipient()) == ["a@example.org", "b@example.org"]
    counts = await SendLog(world.store, context.delivery_id, "t").counts()
    assert counts == {SendStatus.SENT: 2, SendStatus.DEFERRED: 1}

    result = await world.adapter().send(message, context)  # the dispatcher's retry
    assert result.note == "3 of 3 sent"
    assert world.smtp.per_recipient() == {
        "a@example.org": 1,
        "b@example.org": 1,
        "slow@example.org": 1,
    }


async def test_a_reader_who_leaves_before_a_retry_is_skipped(world: World) -> None:
    ids = await world.subscribe("a@example.org", "leaver@example.org")
    world.smtp.script_rcpt("leaver@example.org", "452 4.2.2 Mailbox full")
    message, context = await world.story()
    with pytest.raises(errors.TransientDeliveryError):
        await world.adapter().send(message, context)
    assert await Subscribers(world.store).unsubscribe(ids["leaver@example.org"])
    result = await world.adapter().send(message, context)
    assert result.note == "1 of 2 sent, 1 skipped"
    assert world.smtp.to("leaver@example.org") == []


async def test_a_retraction_stops_the_send_before_its_next_claim(
    world: World, store_url: str
) -> None:
    readers = [f"r{i:03d}@example.org" for i in range(120)]
    await world.subscribe(*readers)
    message, context = await world.story()
    url = make_url(store_url)
    sync_url = url.set(
        drivername="sqlite" if url.get_backend_name() == "sqlite" else "postgresql+psycopg"
    )
    engine = create_engine(sync_url)

    def retract_at_tenth(_received: Received, count: int) -> None:
        if count == 10:  # in the server, before it answers: the sender waits meanwhile
            with engine.begin() as conn:
                conn.execute(text("UPDATE articles SET status = 'retracted'"))

    world.smtp.on_message = retract_at_tenth
    try:
        # The readers mailed so far are the delivery's: the ledger then sends them the
        # withdrawal notice (a result, not a failure that would leave them uninformed).
        result = await world.adapter(connections=1).send(message, context)
        assert result.note.startswith("stopped by the retraction after")
    finally:
        engine.dispose()
    mailed = len(world.smtp.messages)
    assert 10 <= mailed <= 10 + 50  # at most the one claim already in hand
    with pytest.raises(errors.PermanentDeliveryError, match="retracted before"):
        await world.adapter().send(message, context)
    assert len(world.smtp.messages) == mailed


@AUTH_WITHOUT_TLS
async def test_login_refused_breaks_the_channel_without_showing_the_password(
    store, store_url, clock, tmp_path, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    password = "s3cret-Pa55word-for-smtp"
    with FakeSMTP(username="newsroom", password="the-right-one") as server:
        async with World.open(
            store,
            store_url,
            server,
            clock,
            tmp_path,
            smtp={
                "host": server.host,
                "port": server.port,
                "security": "none",
                "username": "newsroom",
                "password": password,
            },
        ) as world:
            await world.subscribe("a@example.org")
            message, context = await world.story()
            caplog.set_level(logging.DEBUG)
            with pytest.raises(errors.ChannelBroken, match="refused the login") as caught:
                await world.adapter().send(message, context)
            assert caught.value.status == 535
            assert password not in str(caught.value) and password not in caplog.text
            assert password not in repr(world.adapter())
            assert server.messages == []


@AUTH_WITHOUT_TLS
async def test_a_login_that_works_sends(store, store_url, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with FakeSMTP(username="newsroom", password="right") as server:
        smtp = {"host": server.host, "port": server.port, "security": "none"}
        smtp.update(username="newsroom", password="right")
        async with World.open(store, store_url, server, clock, tmp_path, smtp=smtp) as world:
            await world.subscribe("a@example.org")
            message, context = await world.story()
            await world.adapter().send(message, context)
            assert server.per_recipient() == {"a@example.org": 1}


async def test_an_unreachable_server_is_transient_and_leaves_everyone_pending(
    world: World,
) -> None:
    await world.subscribe("a@example.org", "b@example.org")
    message, context = await world.story()
    nowhere = SmtpConfig(host="127.0.0.1", port=free_port(), security="none")
    with pytest.raises(errors.TransientDeliveryError, match="unreachable"):
        await world.adapter(connections=1, smtp=nowhere).send(message, context)
    counts = await SendLog(world.store, context.delivery_id, "t").counts()
    assert counts == {SendStatus.PENDING: 2}


async def test_a_sender_the_server_refuses_breaks_the_channel(world: World) -> None:
    await world.subscribe("a@example.org")
    world.smtp.mail_reply = "553 5.7.1 Sender address rejected: not owned by user"
    message, context = await world.story()
    with pytest.raises(errors.ChannelBroken, match="refuses the sender") as caught:
        await world.adapter().send(message, context)
    assert caught.value.status == 553
    counts = await SendLog(world.store, context.delivery_id, "t").counts()
    assert counts == {SendStatus.PENDING: 1}


async def test_the_development_secret_is_refused_for_real_sends(world: World) -> None:
    app = world.loaded.app
    web = app.web.model_copy(update={"secret": type(app.web)().secret})
    world.loaded = type(world.loaded)(
        app=app.model_copy(update={"web": web}), path=world.loaded.path, bundled=False
    )
    await world.subscribe("a@example.org")
    message, context = await world.story()
    with pytest.raises(errors.ChannelBroken, match="development default"):
        await world.adapter().send(message, context)
    assert world.smtp.messages == []


async def test_nobody_matching_is_a_quiet_success(world: World) -> None:
    await world.subscribe("sport@example.org", topics=["sport"])
    message, context = await world.story(tags=["culture"])
    result = await world.adapter().send(message, context)
    assert result.note == "0 of 0 sent"
    assert world.smtp.messages == []
