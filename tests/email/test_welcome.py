"""The welcome email: queued when a reader confirms, mailed by the workers through the list's
sending path, in the reader's language, with the signed preferences link."""

from __future__ import annotations

import asyncio
import re
from email.message import EmailMessage

import httpx

from distributor_channels.email.models import SubscriberStatus
from distributor_channels.email.subscribers import Subscribers
from tests.email.test_subscribe_abuse import use_config
from tests.email.test_web import confirm_path, status_of, web_client
from tests.email.world import BASE_URL, World

CONFIRM_LINK = re.compile(r"https://news\.example\.org(/confirm/\S+)")
PREFERENCES_LINK = re.compile(r"https://news\.example\.org(/unsubscribe/\S+)")


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


async def join(world: World, client: httpx.AsyncClient, address: str, **form: object) -> None:
    """Subscribe through the form, receive the confirmation email, confirm."""
    await client.post("/subscribe/daily", data={"email": address, **form})
    answer = await client.post(await confirm_path(world, address))
    assert answer.status_code == 200


async def test_confirming_queues_one_welcome_the_workers_mail(world: World) -> None:
    async with web_client(world) as client:
        await client.post("/subscribe/daily", data={"email": "new@example.org", "topics": "sport"})
        link = await confirm_path(world, "new@example.org")
        # Two clicks in parallel (a double click, a mail scanner): one confirmation, one welcome.
        answers = await asyncio.gather(client.post(link), client.post(link))
        assert sorted(a.status_code for a in answers) == [200, 403]
        assert len(world.smtp.to("new@example.org")) == 1  # no SMTP inside the request

        assert await world.send_confirmations() == 1
        assert await world.send_confirmations() == 0
        confirmation, welcome = (r.message for r in world.smtp.to("new@example.org"))
        assert welcome["Subject"] == "Welcome to Daily News"
        assert welcome["Content-Language"] == "en"
        assert welcome["List-Id"] == "Daily News <daily.news.example.org>"
        assert welcome["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        text = text_of(welcome)
        assert "new@example.org will receive Daily News" in text and "Your topics: sport." in text
        assert "Unsubscribe or change your preferences" in html_of(welcome)

        # The same signed link in the text, the HTML and the List-Unsubscribe header, and in the
        # confirmation email too: it opens the reader's preferences page.
        match = PREFERENCES_LINK.search(text)
        assert match is not None
        url = BASE_URL + match[1]
        assert welcome["List-Unsubscribe"] == f"<{url}>"
        assert url in html_of(welcome).replace("&amp;", "&")
        assert url in text_of(confirmation)
        page = await client.get(match[1])
        assert page.status_code == 200 and 'name="language"' in page.text

        one_click = await client.post(
            match[1],
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert one_click.status_code == 200
    assert await status_of(world, "new@example.org") == SubscriberStatus.UNSUBSCRIBED


async def test_the_welcome_is_in_the_lists_language_or_the_readers(world: World) -> None:
    use_config(world, language="fr")
    async with web_client(world) as client:
        await join(world, client, "lecteur@example.org")
        await client.post("/subscribe/daily", data={"email": "leser@example.org"})
        link = await confirm_path(world, "leser@example.org")
        reader = await Subscribers(world.store).find("daily", "leser@example.org")
        assert reader is not None
        await Subscribers(world.store).set_preferences(reader.id, [], "de")
        await client.post(link)
    assert await world.send_confirmations() == 1  # the first welcome went with leser's request

    french = world.smtp.to("lecteur@example.org")[-1].message
    assert french["Subject"] == "Bienvenue dans Daily News"
    assert french["Content-Language"] == "fr"
    assert "Vous recevrez tous les articles." in text_of(french)
    assert '<html lang="fr">' in html_of(french)
    german = world.smtp.to("leser@example.org")[-1].message
    assert german["Subject"] == "Willkommen bei Daily News"
    assert "Sie erhalten alle Artikel." in text_of(german)


async def test_a_reader_who_leaves_before_it_goes_out_gets_no_welcome(world: World) -> None:
    async with web_client(world) as client:
        await join(world, client, "gone@example.org")
    reader = await Subscribers(world.store).find("daily", "gone@example.org")
    assert reader is not None and await Subscribers(world.store).unsubscribe(reader.id)
    assert await world.send_confirmations() == 0
    assert len(world.smtp.to("gone@example.org")) == 1  # the confirmation only


async def test_the_welcome_can_be_turned_off_or_given_a_subject(world: World) -> None:
    use_config(world, welcome_email=False)
    async with web_client(world) as client:
        await join(world, client, "quiet@example.org")
    assert await world.send_confirmations() == 0
    assert len(world.smtp.to("quiet@example.org")) == 1

    use_config(world, welcome_subject="You are in: {list}")
    async with web_client(world) as client:
        await join(world, client, "subject@example.org")
    assert await world.send_confirmations() == 1
    assert world.smtp.to("subject@example.org")[-1].message["Subject"] == "You are in: Daily News"


async def test_readers_added_by_an_admin_get_no_welcome(world: World) -> None:
    await world.subscribe("imported@example.org")
    assert await world.send_confirmations() == 0
    assert world.smtp.messages == []


async def test_an_admins_welcome_template_is_used(world: World) -> None:
    folder = world.tmp_path / "templates" / "email"
    folder.mkdir(parents=True)
    (folder / "welcome.txt.j2").write_text(
        "Hello {{ address }}, {{ list_title }} says hi.\n{{ preferences_url }}\n"
    )
    async with web_client(world) as client:
        await join(world, client, "custom@example.org")
    assert await world.send_confirmations() == 1
    welcome = world.smtp.to("custom@example.org")[-1].message
    assert text_of(welcome).startswith("Hello custom@example.org, Daily News says hi.")
    assert "Welcome to Daily News" in html_of(welcome)  # the bundled HTML part still


async def test_welcomes_share_the_lists_connection_with_confirmations(world: World) -> None:
    use_config(world, subscribe_limits={"client_address_header": "X-Forwarded-For"})
    async with web_client(world) as client:
        for n in range(3):
            await client.post(
                "/subscribe/daily",
                data={"email": f"w{n}@example.org"},
                headers={"X-Forwarded-For": f"198.51.100.{n}"},
            )
        assert await world.send_confirmations() == 3
        for n in range(3):
            found = CONFIRM_LINK.search(text_of(world.smtp.to(f"w{n}@example.org")[0].message))
            assert found is not None and (await client.post(found[1])).status_code == 200
        for n in range(3):
            await client.post(
                "/subscribe/daily",
                data={"email": f"c{n}@example.org"},
                headers={"X-Forwarded-For": f"192.0.2.{n}"},
            )
    before = len(world.smtp.connections)
    assert await world.send_confirmations() == 6
    assert len(world.smtp.connections) - before == 1


async def test_a_dry_run_list_writes_its_welcome_to_the_outbox(world: World) -> None:
    use_config(world, dry_run=True)
    async with web_client(world) as client:
        await client.post("/subscribe/daily", data={"email": "dry@example.org"})
        assert await world.send_confirmations() == 1
        (written,) = (world.tmp_path / "outbox" / "newsletter").glob("confirm-*.eml")
        assert PREFERENCES_LINK.search(written.read_text()) is not None
        confirm = CONFIRM_LINK.search(written.read_text())
        assert confirm is not None
        assert (await client.post(confirm[1])).status_code == 200
    assert await world.send_confirmations() == 1
    (welcome,) = (world.tmp_path / "outbox" / "newsletter").glob("welcome-*.eml")
    assert b"To: dry@example.org" in welcome.read_bytes()
    assert world.smtp.messages == []
