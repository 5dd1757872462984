"""Summaries quote the story as written, and carry no control characters."""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from distributor.article_views import article_view, lead_cache, printable
from distributor.models import Article
from distributor.summary import is_boilerplate, lead_sentences, sentences
from tests.helpers import outbox_config, write_config

TRICKY = [
    "Read https://example.org/a/(parens)?a=1&b=2#frag for the data. Then stop.",
    "In Python, ''.__class__ is str. The next sentence follows.",
    "M. Dupont est arrivé à 9 h. Il est reparti vers midi.",
    "Prices rose 3.5% in Q3... Analysts were surprised! Were they? Yes.",
]


def test_tricky_text_is_quoted_as_written() -> None:
    for text in TRICKY:
        assert " ".join(sentences(text, "en")) == text


def test_the_url_and_the_attribute_stay_whole() -> None:
    url, attribute = (sentences(text, "en") for text in TRICKY[:2])
    assert url[0] == "Read https://example.org/a/(parens)?a=1&b=2#frag for the data."
    assert attribute[0] == "In Python, ''.__class__ is str."


words = st.text(
    alphabet=string.ascii_letters + string.digits + ".?!'\"()&=#/:%-…«»", min_size=1, max_size=12
)


@settings(max_examples=300, deadline=None)
@given(st.lists(words, min_size=1, max_size=40), st.sampled_from(["en", "fr", "de", "es"]))
def test_sentences_never_change_the_text(parts: list[str], language: str) -> None:
    text = " ".join(parts)
    assert " ".join(sentences(text, language)) == text


def test_lead_of_a_body_keeps_every_character() -> None:
    body = "Title line\n\n" + TRICKY[0] + "\n\n" + TRICKY[1] + "\n\nThat is all."
    lead = lead_sentences(standfirst=None, body=body, body_format="text", language="en")
    joined = " ".join(lead)
    assert TRICKY[0] in joined
    assert TRICKY[1] in joined


def test_closing_promos_in_every_language_with_labels() -> None:
    promos = {
        "fr": "Tu as aimé cet article ? Alors rejoins-nous sur nos différents canaux !",
        "en": "Did you like this article? Join us on our other channels.",
        "de": "Hat dir dieser Artikel gefallen? Folge uns auf unseren Kanälen!",
        "es": "¿Te gustó este artículo? Síguenos en nuestros canales.",
    }
    for language, promo in promos.items():
        assert is_boilerplate(promo, language), language
        body = f"Premier paragraphe du texte. Deuxième phrase.\n\n{promo}"
        lead = lead_sentences(standfirst=None, body=body, body_format="text", language=language)
        assert all(promo[:12] not in sentence for sentence in lead), language


def test_ordinary_sentences_are_not_promos() -> None:
    for text, language in [
        ("Der Artikel erschien gestern in der Zeitung.", "de"),
        ("El artículo fue publicado ayer.", "es"),
        ("The council will follow the plan.", "en"),
    ]:
        assert not is_boilerplate(text, language)


def test_control_characters_are_removed() -> None:
    assert printable("Breaking\x07 news\x1b[1m now\x00\x7f") == "Breaking news[1m now"
    assert printable("two\nlines\tand a tab") == "two lines and a tab"
    assert printable("Procter & Gamble, AT&T and <Big> Tech") == (
        "Procter & Gamble, AT&T and <Big> Tech"
    )


def test_a_bell_in_a_title_reaches_no_post(tmp_path: Path) -> None:
    from distributor_channels.discord.payload import DiscordPayloads
    from distributor_channels.email.payload import EmailPayloads
    from distributor_channels.telegram.payload import TelegramPayloads

    loaded = write_config(tmp_path, outbox_config("sqlite+aiosqlite:///unused.sqlite3", tmp_path))
    now = datetime.now(UTC)
    article = Article(
        id=7,
        version=1,
        title="Alarm\x07 in the\x1b[2J newsroom",
        standfirst=None,
        body="First sentence\x07 here. Second one.",
        body_format="text",
        url="https://news.example.org/alarm",
        image=None,
        language="en",
        tags=[],
        priority=0,
        publish_at=now,
    )
    builders = {
        "telegram": TelegramPayloads,
        "discord": DiscordPayloads,
        "email": EmailPayloads,
    }
    lead = lead_cache(loaded.app)
    for channel in loaded.app.channels:
        view = article_view(article, channel, loaded.app, lead)
        message = builders[channel.platform](channel, loaded.renderer()).render(view)  # type: ignore[arg-type]
        flat = json.dumps(message.payload, ensure_ascii=False)
        assert "\\u0007" not in flat and "\\u001b" not in flat, channel.name
        assert "Alarm in the[2J newsroom" in flat, channel.name
