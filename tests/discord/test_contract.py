"""Post, edit and delete with the real discord.py against the fake Discord API, in both modes."""

from __future__ import annotations

import pytest

from distributor import errors
from distributor.types import MessageRef
from distributor_channels.discord.adapter import DiscordAdapter, delivery_nonce
from tests.conftest import FakeClock
from tests.discord.conftest import ROLE_ID, OpenAdapter, article, render, send_context
from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.discord_fixtures import (
    DISCORD_BOT_USER_ID,
    DISCORD_CHANNEL_ID,
    DISCORD_WEBHOOK_ID,
)


def expected_target(mode: str) -> str:
    return str(DISCORD_CHANNEL_ID if mode == "bot" else DISCORD_WEBHOOK_ID)


async def test_post_is_one_embed_that_pings_nobody(
    fake: FakeDiscordAPI, open_adapter: OpenAdapter, mode: str, clock: FakeClock
) -> None:
    adapter = await open_adapter(
        mode, colour="#ff8800", source_name="Example Newsroom", footer="Example Newsroom · Lyon"
    )
    result = await adapter.send(render(adapter, article()), send_context())

    [stored] = fake.all_messages()
    assert result.refs == (
        MessageRef(target=expected_target(mode), message_id=str(stored.id), kind=mode, thread=None),
    )
    assert result.sent_at == clock.now and result.sent_at.tzinfo is not None
    assert stored.channel_id == DISCORD_CHANNEL_ID
    assert stored.content == ""
    [embed] = stored.embeds
    assert embed["title"] == "Council approves the new bridge"
    assert embed["url"] == "https://news.example.org/bridge"
    assert embed["description"].startswith("The council voted on Monday. Works start in spring.")
    assert "(https://news.example.org/bridge)" in embed["description"]  # the read-more link
    assert embed["color"] == 0xFF8800
    assert embed["image"] == {"url": "https://news.example.org/bridge.jpg"}
    assert embed["author"]["name"] == "Example Newsroom"
    assert embed["footer"]["text"] == "Example Newsroom · Lyon"
    assert embed["timestamp"].startswith("2026-11-29T08:30:00")
    assert stored.allowed_mentions == {"parse": []}
    assert (stored.pinged_everyone, stored.pinged_roles, stored.pinged_users) == (False, [], [])
    if mode == "bot":
        assert stored.author_id == DISCORD_BOT_USER_ID and stored.webhook_id is None
        assert stored.nonce == delivery_nonce("news", send_context())
    else:
        assert stored.webhook_id == DISCORD_WEBHOOK_ID and stored.nonce is None
        assert fake.requests[-1].query.get("wait") == "1"  # the answer carries the message


async def test_webhook_username_and_avatar(fake: FakeDiscordAPI, open_adapter: OpenAdapter) -> None:
    adapter = await open_adapter(
        "webhook", username="Example Desk", avatar_url="https://news.example.org/logo.png"
    )
    await adapter.send(render(adapter, article()), send_context())
    [stored] = fake.all_messages()
    assert (stored.username, stored.avatar_url) == (
        "Example Desk",
        "https://news.example.org/logo.png",
    )


async def test_breaking_news_pings_exactly_the_configured_role(
    fake: FakeDiscordAPI, open_adapter: OpenAdapter, mode: str
) -> None:
    adapter = await open_adapter(mode, mention_role=ROLE_ID, mention_min_priority=8)
    hostile = article(
        title="@everyone <@&123456789012345678> stop",
        lead=("@here read this <@111111111111111111> and <@&222222222222222222>.",),
        priority=9,
    )
    await adapter.send(render(adapter, hostile), send_context(1))
    await adapter.send(render(adapter, article(priority=3)), send_context(2))

    breaking, calm = fake.all_messages()
    assert breaking.content == f"<@&{ROLE_ID}>"
    assert breaking.pinged_roles == [ROLE_ID]
    assert (breaking.pinged_everyone, breaking.pinged_users) == (False, [])
    assert calm.content == ""
    assert (calm.pinged_everyone, calm.pinged_roles, calm.pinged_users) == (False, [], [])


async def test_a_payload_cannot_widen_allowed_mentions(
    fake: FakeDiscordAPI, open_adapter: OpenAdapter, mode: str
) -> None:
    """Even a payload asking to ping everything (a custom builder) pings only the role."""
    adapter = await open_adapter(mode, mention_role=ROLE_ID)
    message = render(adapter, article())
    loud = {
        **message.payload,
        "content": f"@everyone @here <@&{ROLE_ID}> <@&999999999999999999> <@111111111111111111>",
        "allowed_mentions": {
            "parse": ["everyone", "users"],
            "roles": [str(ROLE_ID), "999999999999999999"],
        },
    }
    await adapter.send(type(message)(payload=loud, summary=message.summary), send_context())
    [stored] = fake.all_messages()
    assert stored.pinged_everyone is False
    assert stored.pinged_roles == [ROLE_ID]
    assert stored.pinged_users == []


async def test_edit_replaces_the_embed_and_drops_a_stale_mention(
    fake: FakeDiscordAPI, open_adapter: OpenAdapter, mode: str
) -> None:
    adapter = await open_adapter(mode, mention_role=ROLE_ID, mention_min_priority=8)
    sent = await adapter.send(render(adapter, article(priority=9)), send_context())
    corrected = article(title="Council approves the new bridge (corrected)", priority=1)
    edited = await adapter.edit(sent.refs, render(adapter, corrected), send_context(version=2))

    assert edited.refs == sent.refs
    [stored] = fake.all_messages()
    assert stored.edits == 1
    assert stored.embeds[0]["title"] == "Council approves the new bridge (corrected)"
    assert stored.content == ""
    assert (stored.pinged_everyone, stored.pinged_roles, stored.pinged_users) == (False, [], [])


async def test_delete_removes_the_post_then_reports_it_gone(
    fake: FakeDiscordAPI, open_adapter: OpenAdapter, mode: str
) -> None:
    adapter = await open_adapter(mode)
    sent = await adapter.send(render(adapter, article()), send_context())
    await adapter.delete(sent.refs, send_context())
    assert fake.all_messages() == []
    assert [str(m.id) for m in fake.deleted] == [sent.refs[0].message_id]

    with pytest.raises(errors.MessageNotFound) as gone:
        await adapter.delete(sent.refs, send_context())
    assert "Unknown Message" in str(gone.value) and "(404)" in str(gone.value)
    with pytest.raises(errors.MessageNotFound):
        await adapter.edit(sent.refs, render(adapter, article()), send_context())


async def test_webhook_posts_into_its_thread_and_edits_it_there(
    fake: FakeDiscordAPI, open_adapter: OpenAdapter
) -> None:
    thread_id = fake.add_thread(DISCORD_CHANNEL_ID, name="breaking")
    adapter = await open_adapter("webhook", thread_id=thread_id)
    sent = await adapter.send(render(adapter, article()), send_context())

    [ref] = sent.refs
    assert ref.thread == str(thread_id)
    stored = fake.messages[thread_id][int(ref.message_id)]
    assert (stored.channel_id, stored.thread_id) == (DISCORD_CHANNEL_ID, thread_id)
    assert fake.requests[-1].query["thread_id"] == str(thread_id)

    await adapter.edit(sent.refs, render(adapter, article(title="Thread edit")), send_context())
    assert stored.embeds[0]["title"] == "Thread edit"
    await adapter.delete(sent.refs, send_context())
    assert fake.deleted == [stored]


async def test_bot_posts_into_a_thread_given_as_channel_id(
    fake: FakeDiscordAPI, open_adapter: OpenAdapter
) -> None:
    thread_id = fake.add_thread(DISCORD_CHANNEL_ID)
    adapter = await open_adapter("bot", channel_id=thread_id)
    sent = await adapter.send(render(adapter, article()), send_context())
    assert sent.refs[0].target == str(thread_id)
    stored = fake.messages[thread_id][int(sent.refs[0].message_id)]
    assert stored.thread_id == thread_id
    await adapter.delete(sent.refs, send_context())
    assert fake.all_messages() == []


async def test_bot_logs_in_once_over_rest_only(
    fake: FakeDiscordAPI, open_adapter: OpenAdapter
) -> None:
    adapter = await open_adapter("bot")
    assert fake.requests == []  # start() makes no request: a bad token fails on a post
    for n in (1, 2, 3):
        await adapter.send(render(adapter, article()), send_context(n))
    routes = [r.route for r in fake.requests]
    assert routes == [
        "GET /users/@me",
        "GET /oauth2/applications/@me",
        *["POST /channels/{channel_id}/messages"] * 3,
    ]
    assert {r.bot_id for r in fake.requests} == {DISCORD_BOT_USER_ID}


async def test_every_retry_of_a_delivery_carries_the_same_short_nonce() -> None:
    first, again = delivery_nonce("news", send_context(5)), delivery_nonce("news", send_context(5))
    assert first == again and len(first) <= 25
    assert delivery_nonce("news", send_context(6)) != first
    assert delivery_nonce("other", send_context(5)) != first
    assert delivery_nonce("news", send_context(5), "edit") != first


async def test_refs_from_another_mode_or_webhook_are_refused(
    fake: FakeDiscordAPI, open_adapter: OpenAdapter
) -> None:
    bot = await open_adapter("bot")
    webhook_ref = MessageRef(target=str(DISCORD_WEBHOOK_ID), message_id="1", kind="webhook")
    with pytest.raises(errors.PermanentDeliveryError, match="made in webhook mode"):
        await bot.edit([webhook_ref], render(bot, article()), send_context())

    hook = await open_adapter("webhook")
    foreign = MessageRef(target="1187402731185880000", message_id="1", kind="webhook")
    with pytest.raises(errors.PermanentDeliveryError, match="belongs to webhook"):
        await hook.delete([foreign], send_context())
    assert fake.requests == []


async def test_repr_names_the_channel_not_the_secret(open_adapter: OpenAdapter, mode: str) -> None:
    adapter: DiscordAdapter = await open_adapter(mode)
    text = repr(adapter)
    assert text.startswith("DiscordAdapter(channel='news', mode=")
    assert expected_target(mode) in text
