"""Previews come from the payload builders that send, and say why a channel is left out."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from distributor import article_views, registry
from distributor.preview import draft_article, preview_story
from distributor.types import ArticleDraft
from tests.helpers import outbox_config, write_config

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
STORY = ArticleDraft(
    title="La passerelle de Lyon rouvre",
    body=(
        "La passerelle rouvre ce matin après deux ans de travaux. Les piétons l'attendaient.\n\n"
        "Le chantier a coûté douze millions d'euros.\n\n"
        "Tu as aimé cet article ? Alors rejoins-nous sur nos différents canaux de diffusion !"
    ),
    publish_at=NOW,
    url="https://news.example.org/lyon/passerelle",
    language="fr",
    tags=("local",),
)


def parts(raw: bytes) -> list[str]:
    mail = message_from_bytes(raw, policy=policy.default)
    assert isinstance(mail, EmailMessage)
    return [mail["Subject"], *(str(part.get_content()) for part in mail.iter_parts())]


def config(tmp_path: Path) -> dict[str, object]:
    data = outbox_config("sqlite+aiosqlite:///unused.sqlite3", tmp_path)
    channels = data["channels"]
    assert isinstance(channels, list)
    channels.append(
        {
            "name": "english-only",
            "platform": "telegram",
            "dry_run": True,
            "chat": "@english",
            "filters": {"languages": ["en"]},
        }
    )
    return data


def test_each_channel_gets_the_post_its_builder_would_send(tmp_path: Path) -> None:
    loaded = write_config(tmp_path, config(tmp_path))
    previews = {p.channel: p for p in preview_story(loaded.app, loaded.renderer(), STORY, NOW)}
    assert set(previews) == {"telegram", "discord", "email", "english-only"}
    assert previews["english-only"].post is None
    assert previews["english-only"].excluded_by == "filters.languages: takes en, not fr"

    lead = article_views.lead_cache(loaded.app)
    for name in ("telegram", "discord", "email"):
        preview = previews[name]
        assert preview.post is not None and preview.excluded_by is None
        channel = loaded.app.channel(name)
        builder = registry.get(channel.platform).builder(channel, loaded.renderer())
        view = article_views.article_view(draft_article(STORY, NOW), channel, loaded.app, lead)
        sent = builder.outbox_entry("send", builder.render(view), ()).content
        if preview.post.media_type == "message/rfc822":  # MIME boundaries differ per message
            assert parts(preview.post.payload) == parts(sent)
        else:
            assert preview.post.payload == sent  # byte for byte what the outbox would write
        assert "passerelle rouvre ce matin" in preview.post.text
        assert "Tu as aimé" not in preview.post.text
        assert preview.post.length <= preview.post.limit


def test_previews_are_what_the_platform_shows(tmp_path: Path) -> None:
    loaded = write_config(tmp_path, config(tmp_path))
    previews = {p.channel: p for p in preview_story(loaded.app, loaded.renderer(), STORY, NOW)}
    telegram = previews["telegram"].post
    assert telegram is not None
    # Telegram shows the parsed text: no tags, entities decoded.
    assert "<a " not in telegram.text and "&#" not in telegram.text
    sent = json.loads(telegram.payload)
    assert sent["method"] == "sendMessage"
    assert telegram.length == len(telegram.text)
    email = previews["email"].post
    assert email is not None
    mail = message_from_bytes(email.payload)
    assert mail["Subject"] is not None
    assert email.text.startswith("Subject: La passerelle de Lyon rouvre")


def test_a_title_with_markup_characters_is_shown_literally_everywhere(tmp_path: Path) -> None:
    title = "Procter & Gamble, AT&T and <Big> Tech: the Q3 earnings in 5 charts"
    story = ArticleDraft(
        title=title, body="Earnings rose. Charts follow.", publish_at=NOW, language="en"
    )
    loaded = write_config(tmp_path, config(tmp_path))
    previews = {p.channel: p.post for p in preview_story(loaded.app, loaded.renderer(), story, NOW)}
    telegram, discord, email = previews["telegram"], previews["discord"], previews["email"]
    assert telegram is not None and discord is not None and email is not None
    assert title in telegram.text  # after Telegram parses the HTML: the escaping made it inert
    assert "&lt;Big&gt;" in json.loads(telegram.payload)["params"]["text"]
    assert json.loads(discord.payload)["payload"]["embeds"][0]["title"] == title
    subject, plain, html = parts(email.payload)
    assert subject == title and title in plain
    assert "&lt;Big&gt;" in html and "<Big>" not in html
