"""The subscribe form cannot be used to mail-bomb anybody, leaks nobody's state, and cannot
undo a reader's choice; confirmation emails are queued and mailed by the workers."""

from __future__ import annotations

import asyncio
import re

from distributor_channels.email.models import SubscriberStatus
from distributor_channels.email.subscribers import Subscribers
from tests.email.test_web import confirm_path, status_of, web_client
from tests.email.world import World, email_config
from tests.fakes.smtp import free_port
from tests.helpers import write_config


def use_config(world: World, **channel: object) -> None:
    data = email_config(world.loaded.app.store.url, world.tmp_path, world.smtp, **channel)
    world.loaded = write_config(world.tmp_path, data, name="limits.yaml")


async def test_a_hundred_parallel_requests_for_one_address_send_one_email(world: World) -> None:
    async with web_client(world) as client:
        answers = await asyncio.gather(
            *(
                client.post("/subscribe/daily", data={"email": "new@example.org"})
                for _ in range(100)
            )
        )
    # 100 requests from one client: the first 10 are served, the rest told to slow down.
    assert sorted({a.status_code for a in answers}) == [200, 429]
    assert sum(a.status_code == 200 for a in answers) == 10
    assert await world.send_confirmations() == 1
    assert len(world.smtp.to("new@example.org")) == 1


async def test_parallel_requests_from_many_clients_for_one_address_send_one_email(
    world: World,
) -> None:
    use_config(world, subscribe_limits={"client_address_header": "X-Forwarded-For"})
    async with web_client(world) as client:
        answers = await asyncio.gather(
            *(
                client.post(
                    "/subscribe/daily",
                    data={"email": "new@example.org"},
                    headers={"X-Forwarded-For": f"203.0.113.{n}"},
                )
                for n in range(100)
            )
        )
    assert {a.status_code for a in answers} == {200}
    await world.send_confirmations()
    assert len(world.smtp.to("new@example.org")) == 1


async def test_one_mailbox_gets_at_most_the_daily_limit(world: World) -> None:
    use_config(world, subscribe_limits={"client_address_header": "X-Forwarded-For"})
    async with web_client(world) as client:
        for n in range(20):  # victim+0 … victim+19: one mailbox, different addresses
            await client.post(
                "/subscribe/daily",
                data={"email": f"victim+{n}@example.org"},
                headers={"X-Forwarded-For": f"198.51.100.{n}"},
            )
    await world.send_confirmations()
    assert len(world.smtp.messages) == 3


async def test_the_domain_and_list_caps_hold(world: World) -> None:
    use_config(
        world,
        subscribe_limits={
            "client_address_header": "X-Forwarded-For",
            "per_domain_per_hour": 4,
            "per_list_per_hour": 6,
        },
    )
    async with web_client(world) as client:
        for n in range(10):
            for domain in ("a.example", "b.example"):
                await client.post(
                    "/subscribe/daily",
                    data={"email": f"r{n}@{domain}"},
                    headers={"X-Forwarded-For": f"192.0.2.{n}"},
                )
    await world.send_confirmations()
    domains = [m.message["To"].split("@")[1] for m in world.smtp.messages]
    assert len(domains) == 6 and max(domains.count(d) for d in set(domains)) <= 4


async def test_one_email_per_recipient_per_interval(world: World) -> None:
    async with web_client(world) as client:
        await client.post("/subscribe/daily", data={"email": "a@example.org"})
        first = await confirm_path(world, "a@example.org")
        world.clock.advance(minutes=5)
        await client.post("/subscribe/daily", data={"email": "a@example.org"})
        await world.send_confirmations()
        assert len(world.smtp.to("a@example.org")) == 1
        world.clock.advance(minutes=6)
        await client.post("/subscribe/daily", data={"email": "a@example.org"})
        second = await confirm_path(world, "a@example.org")
        assert len(world.smtp.to("a@example.org")) == 2
        # Only the latest request's link confirms.
        assert (await client.post(first)).status_code == 403
        assert await status_of(world, "a@example.org") == SubscriberStatus.PENDING
        assert (await client.post(second)).status_code == 200
        assert (await client.post(second)).status_code == 403  # used: no second confirmation
    assert await status_of(world, "a@example.org") == SubscriberStatus.CONFIRMED


async def test_the_answer_is_the_same_whatever_the_state_even_with_smtp_down(
    world: World,
) -> None:
    data = email_config(world.loaded.app.store.url, world.tmp_path, world.smtp)
    data["channels"][0]["smtp"]["port"] = free_port()  # nothing listens there
    world.loaded = write_config(world.tmp_path, data, name="down.yaml")
    await world.subscribe("confirmed@example.org")
    await world.subscribe("left@example.org", status=SubscriberStatus.UNSUBSCRIBED)
    await world.subscribe("pending@example.org", status=SubscriberStatus.PENDING)
    async with web_client(world) as client:
        answers = {
            who: await client.post("/subscribe/daily", data={"email": f"{who}@example.org"})
            for who in ("confirmed", "left", "pending", "new")
        }
    bodies = {re.sub(r"\w+@example\.org", "X", a.text) for a in answers.values()}
    assert {a.status_code for a in answers.values()} == {200} and len(bodies) == 1
    assert "127.0.0.1" not in bodies.pop()
    assert await world.send_confirmations() == 0  # the worker finds SMTP down: retried later
    assert await status_of(world, "left@example.org") == SubscriberStatus.UNSUBSCRIBED


async def test_an_anonymous_request_changes_no_pending_readers_topics(world: World) -> None:
    async with web_client(world) as client:
        await client.post(
            "/subscribe/daily", data={"email": "p@example.org", "topics": ["politics"]}
        )
        link = await confirm_path(world, "p@example.org")
        world.clock.advance(minutes=11)
        # Somebody else asks for other topics: the reader's request link stops working,
        # and nothing changes until the reader confirms the new request.
        await client.post("/subscribe/daily", data={"email": "p@example.org", "topics": ["sport"]})
        assert (await client.post(link)).status_code == 403
    reader = await Subscribers(world.store).find("daily", "p@example.org")
    assert reader is not None and reader.status == SubscriberStatus.PENDING
    assert reader.topics == ""


async def test_an_old_link_never_brings_back_a_reader_who_left_after_a_new_request(
    world: World,
) -> None:
    async with web_client(world) as client:
        await client.post("/subscribe/daily", data={"email": "gone@example.org"})
        old = await confirm_path(world, "gone@example.org")
        reader = await Subscribers(world.store).find("daily", "gone@example.org")
        assert reader is not None
        await Subscribers(world.store).unsubscribe(reader.id)
        world.clock.advance(minutes=11)
        await client.post("/subscribe/daily", data={"email": "gone@example.org"})
        assert (await client.post(old)).status_code == 403
    assert await status_of(world, "gone@example.org") == SubscriberStatus.UNSUBSCRIBED


async def test_overlong_addresses_are_refused_before_validation(world: World) -> None:
    async with web_client(world) as client:
        answer = await client.post("/subscribe/daily", data={"email": "a" * 250 + "@example.org"})
    assert answer.status_code == 400 and "at most 254 characters" in answer.text
    assert "a" * 250 not in answer.text  # not echoed back either
    assert await Subscribers(world.store).counts("daily") == {}


async def test_confirmations_go_through_the_lists_connection(world: World) -> None:
    use_config(world, subscribe_limits={"client_address_header": "X-Forwarded-For"})
    async with web_client(world) as client:
        for n in range(5):
            await client.post(
                "/subscribe/daily",
                data={"email": f"r{n}@example.org"},
                headers={"X-Forwarded-For": f"192.0.2.{n}"},
            )
    before = len(world.smtp.connections)
    assert await world.send_confirmations() == 5
    assert len(world.smtp.connections) - before == 1  # one connection, not one per email


async def test_readers_see_their_lists_language_and_manage_preferences(world: World) -> None:
    use_config(world, language="fr")
    async with web_client(world) as client:
        form = await client.get("/subscribe/daily")
        assert '<html lang="fr">' in form.text and "S&#39;abonner" in form.text
        await client.post("/subscribe/daily", data={"email": "lecteur@example.org"})
        link = await confirm_path(world, "lecteur@example.org")
        (mail,) = world.smtp.to("lecteur@example.org")
        assert mail.message["Content-Language"] == "fr"
        assert "confirmer" in str(mail.message["Subject"]).lower()
        assert "Abonnement confirmé" in (await client.post(link)).text

        message, context = await world.story(1, tags=["sport"])
        await world.adapter().send(message, context)
        story = world.smtp.to("lecteur@example.org")[-1].message
        manage = story["List-Unsubscribe"].split(",")[0].strip("<> ")
        page = await client.get(manage)
        assert page.status_code == 200 and 'name="language"' in page.text
        token = manage.rsplit("/", 1)[1]
        saved = await client.post(
            f"/preferences/{token}",
            data={"action": "save", "topics": ["sport"], "language": "de"},
        )
        assert saved.status_code == 200 and '<html lang="de">' in saved.text
        reader = await Subscribers(world.store).find("daily", "lecteur@example.org")
        assert reader is not None and (reader.topics, reader.language) == ("|sport|", "de")

        await world.subscribe("lecteur@example.org", list_name="weekly")
        left = await client.post(f"/preferences/{token}", data={"action": "leave_all"})
        assert left.status_code == 200
    book = Subscribers(world.store)
    for list_name in ("daily", "weekly"):
        reader = await book.find(list_name, "lecteur@example.org")
        assert reader is not None and reader.status == SubscriberStatus.UNSUBSCRIBED
