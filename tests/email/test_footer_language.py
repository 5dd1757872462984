"""The stories' footer speaks for the list: in the list's language whatever the story's, and its
link says what it opens (the reader's preferences page)."""

from __future__ import annotations

from email.message import EmailMessage

from tests.email.test_subscribe_abuse import use_config
from tests.email.test_web import web_client
from tests.email.test_welcome import html_of, text_of
from tests.email.world import World, email_config
from tests.helpers import write_config


async def story_to(world: World, address: str) -> EmailMessage:
    message, context = await world.story(1)
    await world.adapter().send(message, context)
    return world.smtp.to(address)[-1].message


async def test_an_english_story_to_a_french_list_has_a_french_footer(world: World) -> None:
    use_config(world, language="fr")
    await world.subscribe("lecteur@example.org")
    mail = await story_to(world, "lecteur@example.org")
    assert mail["Content-Language"] == "en"  # the story is English…
    text = text_of(mail)
    assert "Read the full story" in text  # …and so are its own words,
    # but the footer is the list's.
    assert "Vous recevez ce message car vous êtes abonné·e à Daily News." in text
    assert "You receive this" not in text and "Unsubscribe" not in text
    url = mail["List-Unsubscribe"].strip("<>")
    assert f"Se désabonner ou modifier vos préférences: {url}" in text
    html = html_of(mail)
    assert '<p class="footer" lang="fr"' in html
    assert (
        f'<a href="{url}" style="color: #71717a;">Se désabonner ou modifier vos préférences</a>'
        in html
    )

    # What the link opens is that page, in the list's language.
    async with web_client(world) as client:
        page = await client.get(url)
    assert page.status_code == 200 and "Vos préférences" in page.text


async def test_the_footer_link_names_the_preferences_page(world: World) -> None:
    await world.subscribe("reader@example.org")
    mail = await story_to(world, "reader@example.org")
    url = mail["List-Unsubscribe"].strip("<>")
    assert f"Unsubscribe or change your preferences: {url}" in text_of(mail)
    assert "You receive this because you subscribed to Daily News." in text_of(mail)


async def test_an_admins_words_for_the_lists_language_are_used(world: World) -> None:
    data = email_config(world.loaded.app.store.url, world.tmp_path, world.smtp, language="de")
    data["labels"] = {"de": {"manage_preferences": "Meine Einstellungen", "why_received": "Hallo"}}
    world.loaded = write_config(world.tmp_path, data, name="labels.yaml")
    await world.subscribe("leser@example.org")
    text = text_of(await story_to(world, "leser@example.org"))
    assert "Hallo Daily News." in text and "Meine Einstellungen: https://" in text
