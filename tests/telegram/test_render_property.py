"""Hostile article text always renders to something Telegram's HTML and length checks accept.

The checks are the fake server's own (``tests/fakes``: TDLib's parser re-implemented, then the
clean-up and the limits), called directly rather than over HTTP so hypothesis can try many
articles quickly.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from distributor import labels, summary
from distributor.rendering import Renderer
from distributor.types import ArticleView, Promo, PromoLink
from distributor_channels.telegram.config import TelegramChannelConfig
from distributor_channels.telegram.payload import TelegramPayloads
from tests.fakes.telegram_methods import MAX_CAPTION, MAX_TEXT, _format
from tests.fakes.telegram_state import ApiError

HOSTILE = [
    "<", ">", "&", "&amp;", "&lt;", "&#39;", "&#x1F600;", "&#0;", "&#xD800;", "&bogus;", "&&",
    "<b>", "</b>", "<i>", "</p>", "<p>", "<br>", "<a href=x>", "</a>", "<script>alert(1)</script>",
    '"', "'", "\\", "`", "{{ title }}", "{% if %}", "*", "_", "~", "|",
    "😀", "👩‍👩‍👧‍👦", "🇫🇷", "שלום עולם", "مرحبا بالعالم", "\u202e", "\u200f", "\u200b", "\u0301",
    "e\u0301", "\t", "\r", "\u2028", "\u00a0", "Å", "ß", "İ", "ﬁ", "𝕏",
    "https://ex.org/a_b_c?x=1&y=2&z=<3>", "http://ex.org/?q=\"quoted\"&r=a_b",
    "M. Dupont", "Dr. Jones", "3 p.m.", "U.S.", "etc.", "…", "!", "?", ".",
    "Tu as aimé cet article ?", "Join us on our channels!",
]  # fmt: skip
WORD = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(min_size=1, max_size=12),
    st.text(alphabet="<>&;#/=\"' abx", min_size=1, max_size=12),
)
URL = st.builds(
    lambda path, query: f"https://news.example.org/{path}?{query}",
    st.text(alphabet="abc_-/%&=<>\"'", max_size=40),
    st.text(alphabet="abc_&=;#<>\"'", max_size=40),
)


@st.composite
def paragraphs(draw: st.DrawFn) -> str:
    words = draw(st.lists(WORD, min_size=1, max_size=40))
    phrase = " ".join(words)
    # Now and then a 10 kB paragraph, made of one phrase repeated.
    repeat = draw(st.sampled_from([1, 1, 1, 2, 10_000 // max(len(phrase), 1) + 1]))
    return " ".join([phrase] * repeat)


@st.composite
def hostile_views(draw: st.DrawFn) -> tuple[ArticleView, str]:
    body_format = draw(st.sampled_from(["text", "markdown"]))
    body = "\n\n".join(draw(st.lists(paragraphs(), min_size=1, max_size=4)))
    standfirst = draw(st.one_of(st.none(), paragraphs()))
    language = draw(st.sampled_from(["en", "fr", "he", "ar"]))
    lead = summary.lead_sentences(
        standfirst=standfirst, body=body, body_format=body_format, language=language
    )
    title_words = draw(st.lists(WORD, min_size=1, max_size=30))
    title = " ".join(title_words).strip() or "untitled"
    promo = Promo(
        text=" ".join(draw(st.lists(WORD, max_size=8))) or "Join us",
        links=tuple(
            PromoLink(label=" ".join(draw(st.lists(WORD, min_size=1, max_size=3))), url=url)
            for url in draw(st.lists(URL, max_size=3))
        ),
    )
    view = ArticleView(
        id=1,
        version=1,
        title=title,
        url=draw(st.one_of(st.none(), URL)),
        image=draw(URL),
        language=language,
        tags=(),
        priority=0,
        published_at=datetime(2026, 11, 29, tzinfo=UTC),
        lead=lead,
        promo=promo if promo.links else None,
        labels=labels.labels_for(language, {"en": {"read_more": draw(WORD)}}),
        summary_max_chars=draw(st.sampled_from([None, 40, 600, 5000])),
    )
    return view, body


def accepted(markup: str, *, caption: bool) -> str:
    """The text Telegram would show, or the failure Telegram would answer."""
    try:
        text, _ = _format(markup, "HTML", None, caption=caption)
    except ApiError as exc:
        pytest.fail(f"Telegram would refuse this {'caption' if caption else 'text'}: "
                    f"{exc.description}\n{markup!r}")  # fmt: skip
    return text


BUILDER = TelegramPayloads(
    TelegramChannelConfig(name="tg", platform="telegram", token=SecretStr("1:x"), chat="@news"),
    Renderer(),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(hostile_views())
def test_hostile_articles_render_to_html_telegram_accepts(case: tuple[ArticleView, str]) -> None:
    view, body = case
    event(f"body {'over' if len(body) > 10_000 else 'under'} 10 kB")
    event(f"{len(view.lead)} lead sentences" if len(view.lead) < 3 else "3+ lead sentences")
    message = BUILDER.render(view)
    payload = message.payload
    assert payload["method"] == "sendPhoto"
    caption = accepted(payload["params"]["caption"], caption=True)
    text = accepted(payload["fallback"]["params"]["text"], caption=False)
    assert len(caption) <= MAX_CAPTION
    assert len(text) <= MAX_TEXT
