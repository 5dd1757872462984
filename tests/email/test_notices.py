"""Corrections with a note and retractions on email: a short notice, threaded to each reader's
copy, to exactly the readers who received the story. Real SMTP (aiosmtpd), the real dispatcher.
"""

from __future__ import annotations

from distributor.dispatch import Dispatcher
from distributor.ledger import Ledger
from distributor.models import DeliveryStatus
from tests.email.world import World
from tests.helpers import draft


def clear(world: World) -> None:
    with world.smtp.state.lock:
        world.smtp.state.messages.clear()


def dispatcher(world: World) -> Dispatcher:
    return Dispatcher(
        app=world.loaded.app,
        store=world.store,
        adapters={world.channel.name: world.adapter()},
        owner="worker-1",
    )


async def test_a_noted_correction_and_a_retraction_mail_the_readers_who_got_the_story(
    world: World,
) -> None:
    ids = await world.subscribe("a@example.org", "b@example.org")
    await world.subscribe("sport@example.org", topics=["sport"])  # the story is not for them
    _message, context = await world.story(tags=["politics"])
    article_id = context.article_id
    await dispatcher(world).run_until_idle()
    assert set(world.smtp.per_recipient()) == {"a@example.org", "b@example.org"}
    await world.subscribe("late@example.org")  # joined after the story went out
    clear(world)

    await Ledger(world.store).correct(
        article_id, draft(1, publish_at=world.clock(), title="Fixed title"), notice="note"
    )
    await dispatcher(world).run_until_idle()
    assert world.smtp.per_recipient() == {"a@example.org": 1, "b@example.org": 1}
    for address, sid in ids.items():
        mail = world.smtp.to(address)[0].message
        original = f"<a{article_id}.daily.r{sid}@news.example.org>"
        assert mail["In-Reply-To"] == mail["References"] == original
        assert mail["Message-ID"] == f"<a{article_id}.daily.r{sid}.v2@news.example.org>"
        assert mail["Subject"] == "Correction: Fixed title"
        assert mail["List-Unsubscribe"].startswith(
            f"<https://news.example.org/unsubscribe/daily.{sid}."
        )
        assert "Corrected: this story was changed" in mail.get_content()
    (delivery,) = await world.store.deliveries_for([article_id])
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.outcome == "correction notice sent to 2 of 2 reader(s) who got the story"

    clear(world)
    await Ledger(world.store).retract(article_id)
    await dispatcher(world).run_until_idle()
    assert world.smtp.per_recipient() == {"a@example.org": 1, "b@example.org": 1}
    mail = world.smtp.to("a@example.org")[0].message
    assert mail["Subject"] == "Withdrawn: Fixed title"
    assert mail["Message-ID"].endswith(".withdrawn@news.example.org>")
    assert "This story has been withdrawn." in mail.get_content()
    (delivery,) = await world.store.deliveries_for([article_id])
    assert delivery.status == DeliveryStatus.DELETED  # retracted: nothing more goes out
    assert delivery.outcome == "withdrawal notice sent to 2 of 2 reader(s) who got the story"


async def test_a_silent_correction_mails_nothing_and_says_so(world: World) -> None:
    await world.subscribe("a@example.org")
    _message, context = await world.story()
    await dispatcher(world).run_until_idle()
    clear(world)
    await Ledger(world.store).correct(
        context.article_id, draft(1, publish_at=world.clock(), title="Fixed"), notice="silent"
    )
    await dispatcher(world).run_until_idle()
    assert world.smtp.messages == []
    (delivery,) = await world.store.deliveries_for([context.article_id])
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.outcome == "nothing possible: the platform cannot edit a post"


async def test_a_notice_is_mailed_once_to_each_reader_however_often_it_is_retried(
    world: World,
) -> None:
    await world.subscribe("a@example.org", "b@example.org")
    message, context = await world.story()
    await world.adapter().send(message, context)
    await Ledger(world.store).retract(context.article_id)
    clear(world)
    await dispatcher(world).run_until_idle()
    # The same edit again (a retry after a crash): nobody is mailed twice.
    adapter = world.adapter()
    article = await world.store.get_article(context.article_id)
    assert article is not None
    notice = dispatcher(world)._withdrawal(article, adapter)
    await adapter.edit([], notice, context)
    assert world.smtp.per_recipient() == {"a@example.org": 1, "b@example.org": 1}


async def test_an_update_is_threaded_to_the_original_and_mailed_to_its_readers_only(
    world: World,
) -> None:
    ids = await world.subscribe("a@example.org", "b@example.org")
    _message, context = await world.story(tags=["politics"])
    await dispatcher(world).run_until_idle()
    await world.subscribe("late@example.org")  # joined after the original went out
    clear(world)

    await world.store.add_article(
        draft(2, publish_at=world.clock(), title="Vote delayed", follow_up_of=context.article_id)
    )
    await dispatcher(world).run_until_idle()
    assert world.smtp.per_recipient() == {"a@example.org": 1, "b@example.org": 1}
    for address, sid in ids.items():
        mail = world.smtp.to(address)[0].message
        original = f"<a{context.article_id}.daily.r{sid}@news.example.org>"
        assert mail["Subject"] == "Update: Vote delayed"
        assert mail["In-Reply-To"] == mail["References"] == original
        assert mail["Message-ID"] != original
