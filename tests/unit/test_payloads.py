"""The payload builders: fitted to each platform's limit, escaped, linking the other channels."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime

import pytest

from distributor import errors, labels, registry, summary
from distributor.article_views import promo_for
from distributor.configload import load_config
from distributor.rendering import Renderer
from distributor.types import ArticleView, MessageRef
from distributor_channels.discord.payload import DESCRIPTION_LIMIT, DiscordPayloads, units
from distributor_channels.email.payload import UNSUBSCRIBE_MARKER, EmailPayloads
from distributor_channels.telegram import html as tg_html
from distributor_channels.telegram.payload import TelegramPayloads

APP = load_config(None, environ={}).app
RENDERER = Renderer()
NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def view(
    channel: str,
    *,
    title: str = "Title & <friends>",
    lead: tuple[str, ...] = ("First sentence.", "Second sentence."),
    image: str | None = None,
    url: str | None = "https://news.example.org/a?x=1&y=2",
    language: str = "en",
    max_chars: int | None = None,
    priority: int = 0,
) -> ArticleView:
    return ArticleView(
        id=7,
        version=1,
        title=title,
        url=url,
        image=image,
        language=language,
        tags=(),
        priority=priority,
        published_at=NOW,
        lead=lead,
        promo=promo_for(APP, channel, language),
        labels=labels.labels_for(language, {}),
        summary_max_chars=max_chars,
    )


def builder(name: str):  # type: ignore[no-untyped-def]
    channel = APP.channel(name)
    return registry.get(channel.platform).builder(channel, RENDERER)


LONG_LEAD = tuple(
    f"Sentence number {i} says something about the story at length." for i in range(200)
)


def test_telegram_text_post_is_valid_html_with_link_and_other_channels() -> None:
    message = builder("telegram").render(view("telegram"))
    assert message.payload["method"] == "sendMessage"
    text = message.payload["params"]["text"]
    assert tg_html.problems(text) == []
    assert "<b>Title &amp; &lt;friends&gt;</b>" in text
    assert 'href="https://news.example.org/a?x=1&amp;y=2"' in text
    # The promo links the other channels, never the one being posted to.
    assert "discord.gg/example" in text and "127.0.0.1:8080/subscribe" in text
    assert "t.me/example_newsroom" not in text
    assert message.payload["params"]["link_preview_options"]["url"].startswith("https://news.")


def test_telegram_photo_caption_fits_1024_and_keeps_a_text_fallback() -> None:
    message = builder("telegram").render(
        view("telegram", lead=LONG_LEAD, image="https://img.example/p.jpg")
    )
    payload = message.payload
    assert payload["method"] == "sendPhoto"
    caption = payload["params"]["caption"]
    assert tg_html.length(caption) <= tg_html.CAPTION_LIMIT
    assert tg_html.length(caption) > tg_html.CAPTION_LIMIT - 120  # the longest that fits
    fallback = payload["fallback"]["params"]["text"]
    assert tg_html.CAPTION_LIMIT < tg_html.length(fallback) <= tg_html.TEXT_LIMIT
    # Cut at a sentence: the summary ends with a whole sentence.
    assert message.summary.endswith("at length.")


def test_telegram_counts_entities_as_one_character() -> None:
    lead = ("&" * 2000,)
    message = builder("telegram").render(view("telegram", lead=lead))
    text = message.payload["params"]["text"]
    assert text.count("&amp;&amp;") >= 999  # 10,000 raw characters…
    assert tg_html.length(text) <= tg_html.TEXT_LIMIT  # …counted as 2,000 by Telegram


def test_summary_budget_is_respected() -> None:
    message = builder("telegram").render(view("telegram", lead=LONG_LEAD, max_chars=200))
    assert len(message.summary) <= 200
    assert message.summary.endswith(".")


def test_discord_embed_within_limits_and_mentions_nobody() -> None:
    hostile = ("@everyone look at <@&123> and <@456> **now**.", *LONG_LEAD)
    message = builder("discord").render(view("discord", lead=hostile, title="@here " + "x" * 300))
    payload = message.payload
    embed = payload["embeds"][0]
    assert payload["allowed_mentions"] == {"parse": []}
    assert "content" not in payload
    assert units(embed["title"]) <= 256
    assert units(embed["description"]) <= DESCRIPTION_LIMIT
    assert "@\u200beveryone" in embed["description"]  # made inert
    assert "\\*\\*now\\*\\*" in embed["description"]  # markdown escaped
    assert "t.me/example_newsroom" in embed["description"]
    assert "discord.gg" not in embed["description"]


def test_discord_breaking_news_may_ping_only_the_configured_role() -> None:
    channel = APP.channel("discord").model_copy(
        update={"mention_role": 999888777666555444, "mention_min_priority": 5}
    )
    payloads = DiscordPayloads(channel, RENDERER)  # type: ignore[arg-type]
    calm = payloads.render(view("discord", priority=1)).payload
    breaking = payloads.render(view("discord", priority=9)).payload
    assert "content" not in calm
    assert breaking["content"] == "<@&999888777666555444>"
    assert breaking["allowed_mentions"] == {"parse": [], "roles": ["999888777666555444"]}


def test_email_parts_and_per_reader_marker() -> None:
    payloads = builder("email")
    assert isinstance(payloads, EmailPayloads)
    message = payloads.render(view("email", title="Sujet : été", language="fr"))
    payload = message.payload
    assert payload["subject"] == "Sujet : été"
    assert UNSUBSCRIBE_MARKER in payload["html"] and UNSUBSCRIBE_MARKER in payload["text"]
    assert "<style" not in payload["html"]  # CSS inlined for clients that strip <style>
    assert 'style="' in payload["html"]
    assert "Lire l&#39;article" in payload["html"] or "Lire l'article" in payload["html"]
    assert "Title" not in payload["text"]
    entry = payloads.outbox_entry("send", message, [])
    parsed = email.message_from_bytes(entry.content, policy=email.policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed["Subject"] == "Sujet : été"


def test_outbox_entries_are_what_the_platform_would_receive() -> None:
    tg = builder("telegram")
    message = tg.render(view("telegram", image="https://img.example/p.jpg"))
    sent = json.loads(tg.outbox_entry("send", message, []).content)
    assert sent["method"] == "sendPhoto" and "caption" in sent["params"]
    ref = MessageRef(target="-100", message_id="5", kind="photo")
    edit = json.loads(tg.outbox_entry("edit", message, [ref]).content)
    assert edit == {
        "method": "editMessageCaption",
        "params": {
            "chat_id": "-100",
            "message_id": "5",
            "caption": message.payload["params"]["caption"],
            "parse_mode": "HTML",
        },
    }
    text_ref = MessageRef(target="-100", message_id="6", kind="text")
    assert json.loads(tg.outbox_entry("edit", message, [text_ref]).content)["method"] == (
        "editMessageText"
    )
    delete = json.loads(tg.outbox_entry("delete", None, [ref]).content)
    assert delete == {"method": "deleteMessage", "params": {"chat_id": "-100", "message_id": "5"}}


def test_sample_story_summaries_on_every_platform() -> None:
    text = (
        "La passerelle a ouvert samedi. Elle relie deux quartiers. Les cyclistes sont ravis. " * 30
    )
    lead = tuple(summary.sentences(text, "fr"))
    for name in ("telegram", "discord", "email"):
        budget = APP.summary.max_chars
        message = builder(name).render(view(name, lead=lead, language="fr", max_chars=budget))
        assert message.summary.endswith("."), name
        assert budget is not None and budget - 100 < len(message.summary) <= budget


def test_a_template_producing_html_telegram_refuses_is_caught(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "bad.html.j2").write_text("<p>{{ title }}</p>", encoding="utf-8")
    channel = APP.channel("telegram").model_copy(update={"template": "bad.html.j2"})
    payloads = TelegramPayloads(channel, Renderer([tmp_path]))  # type: ignore[arg-type]
    with pytest.raises(errors.TemplateError, match="unsupported tag <p>"):
        payloads.render(view("telegram"))


def test_article_text_is_never_template_source() -> None:
    message = builder("telegram").render(
        view("telegram", title="{{ 7*7 }} {% raw %}", lead=("{{ config }} is text.",))
    )
    text = message.payload["params"]["text"]
    assert "{{ 7*7 }}" in text and "49" not in text
    assert "{{ config }} is text." in text
