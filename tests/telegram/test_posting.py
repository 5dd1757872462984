"""Posting, editing and deleting with the real python-telegram-bot against the fake Bot API."""

from __future__ import annotations

import pytest

from distributor import errors
from distributor.types import MessageRef
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_fixtures import CHANNEL_ID, FORUM_ID, GROUP_ID, PRIVATE_ID
from tests.telegram.conftest import PHOTO_URL, STORY_URL, MakeAdapter, article, send_context

DAY = 24 * 3600.0


async def test_text_post_is_html_with_the_story_link_preview(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    message = adapter.builder.render(article())
    result = await adapter.send(message, send_context())

    [stored] = telegram_api.all_messages()
    assert stored.chat_id == CHANNEL_ID
    assert stored.kind == "text"
    assert stored.parse_mode == "HTML"
    assert stored.text.startswith("Harbour workers strike <again> & again\n\nDockers walked out")
    assert ("bold", 0, len("Harbour workers strike <again> & again")) in [
        (e.type, e.offset, e.length) for e in stored.entities
    ]
    links = [e.url for e in stored.entities if e.type == "text_link"]
    assert links[0] == STORY_URL
    assert "https://news.example.org/subscribe?list=a&b=c" in links
    assert stored.link_preview_options == {"url": STORY_URL}
    assert result.refs == (
        MessageRef(target=str(CHANNEL_ID), message_id=str(stored.message_id), kind="text"),
    )
    assert result.sent_at.utcoffset() is not None
    assert result.note == ""


async def test_photo_post_has_the_html_caption(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter(disable_notification=True, protect_content=True)
    result = await adapter.send(adapter.builder.render(article(image=PHOTO_URL)), send_context())

    [stored] = telegram_api.all_messages()
    assert stored.kind == "photo"
    assert stored.photo_source == PHOTO_URL
    assert stored.text.startswith("Harbour workers strike <again> & again")
    assert len(stored.text) <= 1024
    assert stored.disable_notification and stored.protect_content
    assert result.refs[0].kind == "photo"
    assert result.refs[0].message_id == str(stored.message_id)


@pytest.mark.parametrize("reason", ["wrong_url", "fetch_failed"])
async def test_refused_photo_falls_back_to_the_text_post(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter, reason: str
) -> None:
    telegram_api.refuse_photo(PHOTO_URL, reason=reason)  # type: ignore[arg-type]
    adapter = await make_adapter()
    result = await adapter.send(adapter.builder.render(article(image=PHOTO_URL)), send_context())

    [stored] = telegram_api.all_messages()
    assert stored.kind == "text"
    assert stored.link_preview_options == {"url": STORY_URL}
    assert [r.method for r in telegram_api.requests] == ["sendPhoto", "sendMessage"]
    assert result.refs[0].kind == "text"
    assert "photo refused" in result.note and "sent as text" in result.note


async def test_an_image_that_is_no_web_url_is_never_uploaded(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    message = adapter.builder.render(article(image=PHOTO_URL))
    hostile = dict(message.payload)
    hostile["params"] = {**message.payload["params"], "photo": "/etc/hostname"}
    result = await adapter.send(type(message)(hostile, message.summary), send_context())

    assert [r.method for r in telegram_api.requests] == ["sendMessage"]
    assert telegram_api.all_messages()[0].kind == "text"
    assert "not an http(s) URL" in result.note


async def test_forum_topic_post_lands_in_the_topic(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter(chat=str(FORUM_ID), topic=9)
    result = await adapter.send(adapter.builder.render(article()), send_context())

    [stored] = telegram_api.all_messages()
    assert (stored.chat_id, stored.thread_id) == (FORUM_ID, 9)
    assert result.refs[0].thread == "9"


async def test_edit_text_post(telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter) -> None:
    adapter = await make_adapter()
    sent = await adapter.send(adapter.builder.render(article()), send_context())
    corrected = adapter.builder.render(article(title="Harbour strike ends", version=2))
    result = await adapter.edit(sent.refs, corrected, send_context())

    [stored] = telegram_api.all_messages()
    assert stored.text.startswith("Harbour strike ends\n")
    assert stored.edits == 1
    assert stored.link_preview_options == {"url": STORY_URL}
    assert result.refs == sent.refs
    assert [r.method for r in telegram_api.requests][-1] == "editMessageText"


async def test_edit_photo_post_edits_the_caption(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    sent = await adapter.send(adapter.builder.render(article(image=PHOTO_URL)), send_context())
    corrected = adapter.builder.render(article(title="Strike over", image=PHOTO_URL))
    await adapter.edit(sent.refs, corrected, send_context())

    [stored] = telegram_api.all_messages()
    assert stored.kind == "photo"
    assert stored.text.startswith("Strike over\n")
    assert [r.method for r in telegram_api.requests][-1] == "editMessageCaption"


async def test_edit_after_photo_fallback_edits_the_text(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter
) -> None:
    telegram_api.refuse_photo(PHOTO_URL)
    adapter = await make_adapter()
    sent = await adapter.send(adapter.builder.render(article(image=PHOTO_URL)), send_context())
    await adapter.edit(
        sent.refs, adapter.builder.render(article(title="New", image=PHOTO_URL)), send_context()
    )

    [stored] = telegram_api.all_messages()
    assert stored.kind == "text" and stored.text.startswith("New\n")


async def test_edit_with_nothing_changed_is_a_success(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    message = adapter.builder.render(article())
    sent = await adapter.send(message, send_context())
    result = await adapter.edit(sent.refs, message, send_context())

    assert telegram_api.requests[-1].status == 400  # Telegram said "message is not modified"
    assert telegram_api.all_messages()[0].edits == 0
    assert result.refs == sent.refs
    assert "unchanged" in result.note


async def test_edit_of_a_vanished_post_is_message_not_found(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    ref = MessageRef(target=str(CHANNEL_ID), message_id="999", kind="text")
    with pytest.raises(errors.MessageNotFound, match="message to edit not found"):
        await adapter.edit([ref], adapter.builder.render(article()), send_context())


async def test_delete_removes_the_post(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter(chat=str(GROUP_ID))
    sent = await adapter.send(adapter.builder.render(article()), send_context())
    await adapter.delete(sent.refs, send_context())

    assert telegram_api.messages[GROUP_ID] == {}
    assert [m.message_id for m in telegram_api.deleted] == [int(sent.refs[0].message_id)]


async def test_delete_of_a_vanished_post_is_message_not_found(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    sent = await adapter.send(adapter.builder.render(article()), send_context())
    await adapter.delete(sent.refs, send_context())
    with pytest.raises(errors.MessageNotFound, match="message to delete not found"):
        await adapter.delete(sent.refs, send_context())


async def test_delete_after_48_hours_is_not_deletable_and_says_why(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter(chat=str(PRIVATE_ID))
    sent = await adapter.send(adapter.builder.render(article()), send_context())
    telegram_api.age_message(PRIVATE_ID, int(sent.refs[0].message_id), 2 * DAY + 1)

    with pytest.raises(errors.NotDeletable) as caught:
        await adapter.delete(sent.refs, send_context())
    assert "48 hours" in str(caught.value)
    assert str(caught.value).startswith("telegram channel 'tg': deleteMessage failed: ")
    assert str(caught.value).endswith("(400)")
    assert len(telegram_api.messages[PRIVATE_ID]) == 1


async def test_refs_from_dry_run_are_never_sent_to_telegram(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    ref = MessageRef(target="tg", message_id="00001-story-v1-send.json", kind="outbox")
    with pytest.raises(errors.MessageNotFound, match="never on Telegram"):
        await adapter.delete([ref], send_context())
    assert telegram_api.requests == []


async def test_photo_post_whose_story_lost_its_image_gets_the_text_as_caption(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    sent = await adapter.send(adapter.builder.render(article(image=PHOTO_URL)), send_context())
    await adapter.edit(sent.refs, adapter.builder.render(article(title="No image")), send_context())

    [stored] = telegram_api.all_messages()
    assert stored.kind == "photo" and stored.text.startswith("No image\n")


async def test_photo_post_whose_story_lost_its_image_and_grew_says_what_to_do(
    telegram_api: FakeTelegramAPI, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    sent = await adapter.send(adapter.builder.render(article(image=PHOTO_URL)), send_context())
    long_lead = tuple(f"Sentence number {n} of a long correction." for n in range(80))
    longer = adapter.builder.render(article(lead=long_lead, summary_max_chars=None))
    with pytest.raises(errors.PermanentDeliveryError, match="delete the post and queue"):
        await adapter.edit(sent.refs, longer, send_context())
