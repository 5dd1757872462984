"""Self-tests of the fake Discord API, driven by the real discord.py 2.7.1 (no mocks)."""

from __future__ import annotations

import asyncio
import io
import json
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
import pytest_asyncio

from tests.fakes.discord_api import FakeDiscordAPI, RateLimits
from tests.fakes.discord_fixtures import (
    DISCORD_BOT_TOKEN,
    DISCORD_BOT_USER_ID,
    DISCORD_CHANNEL_ID,
    DISCORD_WEBHOOK_ID,
    DISCORD_WEBHOOK_TOKEN,
    DISCORD_WEBHOOK_URL,
    discord_api,
    discord_py_pointed_at,
    populate_default_world,
)

__all__ = ["discord_api"]  # the fixture is imported so this module runs without a conftest

POST_MESSAGES = "POST /channels/{channel_id}/messages"
EXECUTE_WEBHOOK = "POST /webhooks/{webhook_id}/{webhook_token}"


@pytest_asyncio.fixture
async def bot(discord_api: FakeDiscordAPI) -> AsyncIterator[discord.Client]:
    client = discord.Client(
        intents=discord.Intents.none(), allowed_mentions=discord.AllowedMentions.none()
    )
    await client.login(DISCORD_BOT_TOKEN)
    yield client
    await client.close()


@pytest_asyncio.fixture
async def webhook(discord_api: FakeDiscordAPI) -> AsyncIterator[discord.Webhook]:
    async with aiohttp.ClientSession() as session:
        yield discord.Webhook.from_url(DISCORD_WEBHOOK_URL, session=session)


def _channel(client: discord.Client, channel_id: int = DISCORD_CHANNEL_ID) -> Any:
    return client.get_partial_messageable(channel_id)


# -- bot mode --------------------------------------------------------------------------------


async def test_bot_post_edit_delete(discord_api: FakeDiscordAPI, bot: discord.Client) -> None:
    assert bot.user is not None
    assert bot.user.id == DISCORD_BOT_USER_ID
    msg = await _channel(bot).send("hello", embed=discord.Embed(title="T", description="D"))
    stored = discord_api.messages[DISCORD_CHANNEL_ID][msg.id]
    assert (stored.content, stored.author_id, stored.webhook_id) == (
        "hello",
        DISCORD_BOT_USER_ID,
        None,
    )
    assert stored.embeds[0]["description"] == "D"
    assert stored.allowed_mentions == {"parse": []}
    assert msg.author.id == DISCORD_BOT_USER_ID
    assert msg.embeds[0].title == "T"

    edited = await msg.edit(content="hello again")
    assert edited.edited_at is not None
    assert (stored.content, stored.edits) == ("hello again", 1)
    assert stored.embeds[0]["title"] == "T"  # untouched keys survive an edit

    await msg.delete()
    assert msg.id not in discord_api.messages[DISCORD_CHANNEL_ID]
    assert [m.id for m in discord_api.deleted] == [msg.id]
    assert discord_api.all_messages() == []


async def test_bot_fetch_message_and_channel(
    discord_api: FakeDiscordAPI, bot: discord.Client
) -> None:
    msg = await _channel(bot).send("fetch me")
    fetched = await _channel(bot).fetch_message(msg.id)
    assert fetched.content == "fetch me"
    channel = await bot.fetch_channel(DISCORD_CHANNEL_ID)
    assert isinstance(channel, discord.TextChannel)
    assert channel.name == "news"


async def test_bot_posts_into_thread(discord_api: FakeDiscordAPI, bot: discord.Client) -> None:
    thread_id = discord_api.add_thread(DISCORD_CHANNEL_ID)
    msg = await _channel(bot, thread_id).send("in thread")
    stored = discord_api.messages[thread_id][msg.id]
    assert (stored.channel_id, stored.thread_id) == (DISCORD_CHANNEL_ID, thread_id)
    assert msg.channel.id == thread_id


async def test_login_with_bad_token_fails(discord_api: FakeDiscordAPI) -> None:
    client = discord.Client(intents=discord.Intents.none())
    with pytest.raises(discord.LoginFailure):
        await client.login("not-a-registered-token")
    await client.close()
    assert discord_api.count_status(401) == 1


async def test_same_nonce_twice_creates_one_message(
    discord_api: FakeDiscordAPI, bot: discord.Client
) -> None:
    first = await _channel(bot).send("once", nonce="article-42:news")
    second = await _channel(bot).send("once", nonce="article-42:news")
    assert first.id == second.id
    assert len(discord_api.all_messages()) == 1
    assert discord_api.nonce_hits == 1


async def test_multipart_upload_is_stored(discord_api: FakeDiscordAPI, bot: discord.Client) -> None:
    msg = await _channel(bot).send("file", file=discord.File(io.BytesIO(b"hello"), "a.txt"))
    stored = discord_api.messages[DISCORD_CHANNEL_ID][msg.id]
    assert [(a["filename"], a["size"]) for a in stored.attachments] == [("a.txt", 5)]
    assert msg.attachments[0].filename == "a.txt"


# -- limits ----------------------------------------------------------------------------------


async def test_description_over_4096_names_the_field(
    discord_api: FakeDiscordAPI, bot: discord.Client
) -> None:
    with pytest.raises(discord.HTTPException) as caught:
        await _channel(bot).send(embed=discord.Embed(description="x" * 4097))
    assert (caught.value.status, caught.value.code) == (400, 50035)
    assert "In embeds.0.description: Must be 4096 or fewer in length." in str(caught.value)
    assert discord_api.all_messages() == []
    # Surrounding whitespace is not counted.
    await _channel(bot).send(embed=discord.Embed(description="x" * 4096 + "   "))
    assert len(discord_api.all_messages()) == 1


async def test_embed_total_over_6000(discord_api: FakeDiscordAPI, bot: discord.Client) -> None:
    embeds = [discord.Embed(description="a" * 3000), discord.Embed(description="b" * 3001)]
    with pytest.raises(discord.HTTPException) as caught:
        await _channel(bot).send(embeds=embeds)
    assert caught.value.code == 50035
    assert "In embeds: Embed size exceeds maximum size of 6000" in caught.value.text
    embeds[1].description = "b" * 3000
    await _channel(bot).send(embeds=embeds)
    assert len(discord_api.all_messages()) == 1


async def test_content_over_2000(discord_api: FakeDiscordAPI, bot: discord.Client) -> None:
    with pytest.raises(discord.HTTPException) as caught:
        await _channel(bot).send("x" * 2001)
    assert "In content: Must be 2000 or fewer in length." in caught.value.text
    await _channel(bot).send("x" * 2000)
    assert len(discord_api.all_messages()) == 1


async def test_length_unit_can_count_utf16(
    discord_api: FakeDiscordAPI, bot: discord.Client
) -> None:
    emoji = "\N{GRINNING FACE}" * 1001  # 1001 code points, 2002 UTF-16 units
    await _channel(bot).send(emoji)
    discord_api.length_unit = "utf16"
    with pytest.raises(discord.HTTPException, match="In content"):
        await _channel(bot).send(emoji)
    assert len(discord_api.all_messages()) == 1


async def test_edit_is_revalidated(discord_api: FakeDiscordAPI, bot: discord.Client) -> None:
    msg = await _channel(bot).send("short")
    with pytest.raises(discord.HTTPException, match="In content"):
        await msg.edit(content="y" * 2001)
    with pytest.raises(discord.HTTPException) as caught:
        await msg.edit(content=None)
    assert caught.value.code == 50006
    stored = discord_api.messages[DISCORD_CHANNEL_ID][msg.id]
    assert (stored.content, stored.edits) == ("short", 0)


# -- errors ----------------------------------------------------------------------------------


async def test_unknown_channel(discord_api: FakeDiscordAPI, bot: discord.Client) -> None:
    with pytest.raises(discord.NotFound) as caught:
        await _channel(bot, 1187402731185889999).send("x")
    assert caught.value.code == 10003


async def test_missing_access_and_permissions(
    discord_api: FakeDiscordAPI, bot: discord.Client
) -> None:
    discord_api.set_permissions(DISCORD_CHANNEL_ID, bot_can_view=False)
    with pytest.raises(discord.Forbidden) as caught:
        await _channel(bot).send("x")
    assert caught.value.code == 50001
    discord_api.set_permissions(DISCORD_CHANNEL_ID, bot_can_view=True, bot_can_send=False)
    with pytest.raises(discord.Forbidden) as caught:
        await _channel(bot).send("x")
    assert caught.value.code == 50013
    discord_api.set_permissions(DISCORD_CHANNEL_ID, bot_can_send=True, bot_can_embed=False)
    with pytest.raises(discord.Forbidden) as caught:
        await _channel(bot).send(embed=discord.Embed(title="t"))
    assert caught.value.code == 50013
    assert discord_api.all_messages() == []


async def test_other_authors_message(
    discord_api: FakeDiscordAPI, bot: discord.Client, webhook: discord.Webhook
) -> None:
    hooked = await webhook.send("from hook", wait=True)
    theirs = _channel(bot).get_partial_message(hooked.id)
    with pytest.raises(discord.Forbidden) as caught:
        await theirs.edit(content="hijack")
    assert caught.value.code == 50005
    discord_api.set_permissions(DISCORD_CHANNEL_ID, bot_can_manage_messages=False)
    with pytest.raises(discord.Forbidden) as caught:
        await theirs.delete()
    assert caught.value.code == 50013
    discord_api.set_permissions(DISCORD_CHANNEL_ID, bot_can_manage_messages=True)
    await theirs.delete()
    assert discord_api.all_messages() == []


async def test_unknown_webhook_and_bad_token(discord_api: FakeDiscordAPI) -> None:
    async with aiohttp.ClientSession() as session:
        wrong = discord.Webhook.partial(DISCORD_WEBHOOK_ID, "x" * 68, session=session)
        with pytest.raises(discord.HTTPException) as caught:
            await wrong.send("x", wait=True)
        assert (caught.value.status, caught.value.code) == (401, 50027)
        discord_api.delete_webhook(DISCORD_WEBHOOK_ID)
        gone = discord.Webhook.from_url(DISCORD_WEBHOOK_URL, session=session)
        with pytest.raises(discord.NotFound) as caught:
            await gone.send("x", wait=True)
        assert caught.value.code == 10015
    assert discord_api.all_messages() == []


# -- webhook mode ----------------------------------------------------------------------------


async def test_webhook_send_edit_delete(
    discord_api: FakeDiscordAPI, webhook: discord.Webhook
) -> None:
    sent = await webhook.send("hi", wait=True, username="Desk", embed=discord.Embed(title="E"))
    stored = discord_api.messages[DISCORD_CHANNEL_ID][sent.id]
    assert (stored.webhook_id, stored.username, stored.content) == (
        DISCORD_WEBHOOK_ID,
        "Desk",
        "hi",
    )
    assert sent.author.name == "Desk"
    assert sent.webhook_id == DISCORD_WEBHOOK_ID
    await webhook.edit_message(sent.id, content="hi (corrected)")
    assert (stored.content, stored.edits) == ("hi (corrected)", 1)
    await webhook.delete_message(sent.id)
    assert discord_api.deleted == [stored]
    assert discord_api.all_messages() == []


async def test_webhook_wait_false_still_stores(
    discord_api: FakeDiscordAPI, webhook: discord.Webhook
) -> None:
    await webhook.send("fire and forget")  # wait=False: discord.py returns None
    assert [m.content for m in discord_api.all_messages()] == ["fire and forget"]
    assert discord_api.requests[-1].status == 204


async def test_webhook_thread_id(discord_api: FakeDiscordAPI, webhook: discord.Webhook) -> None:
    thread_id = discord_api.add_thread(DISCORD_CHANNEL_ID)
    thread = discord.Object(thread_id)
    sent = await webhook.send("in thread", wait=True, thread=thread)
    stored = discord_api.messages[thread_id][sent.id]
    assert stored.thread_id == thread_id
    assert sent.channel.id == thread_id
    with pytest.raises(discord.NotFound):  # without thread_id the message is not found
        await webhook.edit_message(sent.id, content="nope")
    await webhook.edit_message(sent.id, content="edited", thread=thread)
    await webhook.delete_message(sent.id, thread=thread)
    assert stored.content == "edited"
    assert discord_api.deleted == [stored]


async def test_webhook_username_limit(
    discord_api: FakeDiscordAPI, webhook: discord.Webhook
) -> None:
    with pytest.raises(discord.HTTPException, match="In username"):
        await webhook.send("x", wait=True, username="u" * 81)
    assert discord_api.all_messages() == []


async def test_webhook_requests_do_not_record_the_token(
    discord_api: FakeDiscordAPI, webhook: discord.Webhook
) -> None:
    await webhook.send("x", wait=True)
    recorded = [r.path for r in discord_api.requests]
    assert recorded
    assert all(DISCORD_WEBHOOK_TOKEN not in p for p in recorded)
    assert discord_api.requests[-1].route == EXECUTE_WEBHOOK


# -- mentions --------------------------------------------------------------------------------


async def test_allowed_mentions_none_pings_nobody(
    discord_api: FakeDiscordAPI, bot: discord.Client
) -> None:
    msg = await _channel(bot).send("@everyone look <@123456789012345678> <@&222>")
    stored = discord_api.messages[DISCORD_CHANNEL_ID][msg.id]
    assert (stored.pinged_everyone, stored.pinged_users, stored.pinged_roles) == (False, [], [])
    assert msg.mention_everyone is False


async def test_bot_default_mentions_follow_permission(discord_api: FakeDiscordAPI) -> None:
    client = discord.Client(intents=discord.Intents.none())  # no allowed_mentions at all
    await client.login(DISCORD_BOT_TOKEN)
    try:
        loud = await _channel(client).send("@everyone <@&777>")
        discord_api.set_permissions(DISCORD_CHANNEL_ID, bot_can_mention_everyone=False)
        quiet = await _channel(client).send("@here")
    finally:
        await client.close()
    by_id = discord_api.messages[DISCORD_CHANNEL_ID]
    assert (by_id[loud.id].pinged_everyone, by_id[loud.id].pinged_roles) == (True, [777])
    assert by_id[quiet.id].pinged_everyone is False


async def test_webhook_default_parses_users_only(
    discord_api: FakeDiscordAPI, webhook: discord.Webhook
) -> None:
    sent = await webhook.send(
        "<@123> @everyone <@&5>", wait=True, embed=discord.Embed(description="<@999>")
    )
    stored = discord_api.messages[DISCORD_CHANNEL_ID][sent.id]
    assert (stored.pinged_users, stored.pinged_everyone, stored.pinged_roles) == ([123], False, [])
    muted = await webhook.send("<@123>", wait=True, allowed_mentions=discord.AllowedMentions.none())
    assert discord_api.messages[DISCORD_CHANNEL_ID][muted.id].pinged_users == []


# -- rate limits and faults ------------------------------------------------------------------


async def test_scripted_429_with_via_is_retried(
    discord_api: FakeDiscordAPI, bot: discord.Client, webhook: discord.Webhook
) -> None:
    discord_api.fail_next(route=POST_MESSAGES, status=429, retry_after=0.05)
    discord_api.fail_next(route=EXECUTE_WEBHOOK, status=429, retry_after=0.05)
    await _channel(bot).send("after 429")
    await webhook.send("hook after 429", wait=True)
    assert [m.content for m in discord_api.all_messages()] == ["after 429", "hook after 429"]
    assert discord_api.count_status(429) == 2


async def test_webhook_5xx_after_processing_duplicates(
    discord_api: FakeDiscordAPI, webhook: discord.Webhook
) -> None:
    discord_api.fail_next(route=EXECUTE_WEBHOOK, status=500, then_process=True)
    await webhook.send("breaking", wait=True)
    assert [m.content for m in discord_api.all_messages()] == ["breaking", "breaking"]


async def test_bot_5xx_after_processing_is_deduped_by_nonce(
    discord_api: FakeDiscordAPI, bot: discord.Client
) -> None:
    discord_api.fail_next(route=POST_MESSAGES, status=500, then_process=True)
    msg = await _channel(bot).send("breaking")  # discord.py sends a random nonce by default
    assert [m.id for m in discord_api.all_messages()] == [msg.id]
    assert discord_api.nonce_hits == 1
    assert discord_api.count_status(500) == 1


async def _post(
    session: aiohttp.ClientSession,
    fake: FakeDiscordAPI,
    path: str,
    payload: dict[str, Any] | None = None,
) -> aiohttp.ClientResponse:
    headers = {"Authorization": f"Bot {DISCORD_BOT_TOKEN}"}
    async with session.post(
        fake.api_base + path, json=payload or {"content": "x"}, headers=headers
    ) as resp:
        await resp.read()
        return resp


async def test_per_route_limit_answers_429(discord_api: FakeDiscordAPI) -> None:
    path = f"/channels/{DISCORD_CHANNEL_ID}/messages"
    async with aiohttp.ClientSession() as session:
        answers = [await _post(session, discord_api, path) for _ in range(6)]
        async with session.post(
            discord_api.api_base + path,
            json={"content": "x"},
            headers={"Authorization": f"Bot {DISCORD_BOT_TOKEN}"},
        ) as last:
            body = await last.json()
    assert [r.status for r in answers] == [200] * 5 + [429]
    assert [r.headers["X-RateLimit-Remaining"] for r in answers[:5]] == ["4", "3", "2", "1", "0"]
    assert all(r.headers["Content-Type"] == "application/json" for r in answers)
    assert float(answers[0].headers["X-RateLimit-Reset-After"]) > 0
    limited = answers[5].headers
    assert (limited["Via"], limited["X-RateLimit-Scope"]) == ("1.1 google", "user")
    assert int(limited["Retry-After"]) >= 1
    assert body["message"] == "You are being rate limited."
    assert body["global"] is False
    assert body["retry_after"] > 0
    assert discord_api.count_status(429) == 2
    assert len(discord_api.all_messages()) == 5


async def test_global_limit_answers_global_429() -> None:
    fake = FakeDiscordAPI(rate_limits=RateLimits(global_per_second=3, per_route_limit=100))
    populate_default_world(fake)
    async with fake, aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bot {DISCORD_BOT_TOKEN}"}
        statuses = []
        for _ in range(4):
            async with session.get(fake.api_base + "/users/@me", headers=headers) as resp:
                statuses.append(resp.status)
                body = await resp.json()
    assert statuses == [200, 200, 200, 429]
    assert body["global"] is True
    assert (resp.headers["X-RateLimit-Global"], resp.headers["X-RateLimit-Scope"]) == (
        "true",
        "global",
    )


async def test_no_rate_limits_when_disabled() -> None:
    fake = FakeDiscordAPI(rate_limits=None)
    populate_default_world(fake)
    async with fake, aiohttp.ClientSession() as session:
        path = f"/channels/{DISCORD_CHANNEL_ID}/messages"
        answers = [await _post(session, fake, path) for _ in range(8)]
    assert {r.status for r in answers} == {200}
    assert "X-RateLimit-Remaining" not in answers[0].headers


async def test_drop_after_processing(discord_api: FakeDiscordAPI) -> None:
    discord_api.drop_next(route=POST_MESSAGES, then_process=True)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await _post(session, discord_api, f"/channels/{DISCORD_CHANNEL_ID}/messages")
    assert len(discord_api.all_messages()) == 1
    assert discord_api.count_status(0) == 1
    assert discord_api.requests[-1].fault == "drop"


async def test_timeout_without_processing(discord_api: FakeDiscordAPI) -> None:
    discord_api.timeout_next(route=POST_MESSAGES, seconds=0.5, then_process=False)
    timeout = aiohttp.ClientTimeout(total=0.1)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        with pytest.raises(asyncio.TimeoutError):
            await _post(session, discord_api, f"/channels/{DISCORD_CHANNEL_ID}/messages")
    await asyncio.sleep(0.6)
    assert discord_api.all_messages() == []
    assert discord_api.requests[-1].fault == "timeout"


async def test_random_faults_are_reproducible() -> None:
    async def run(seed: int) -> list[int]:
        fake = FakeDiscordAPI(rate_limits=None)
        populate_default_world(fake)
        fake.set_fault_rate(0.5, kinds=("5xx", "429"), seed=seed)
        async with fake, aiohttp.ClientSession() as session:
            for _ in range(12):
                await _post(session, fake, f"/channels/{DISCORD_CHANNEL_ID}/messages")
        return [r.status for r in fake.requests]

    first, again, other = await run(7), await run(7), await run(8)
    assert first == again
    assert first != other
    assert 200 in first
    assert any(s >= 429 for s in first)


def test_running_in_thread_serves_sync_callers() -> None:
    fake = FakeDiscordAPI()
    populate_default_world(fake)
    with fake.running_in_thread():
        request = urllib.request.Request(
            fake.api_base + "/oauth2/applications/@me",
            headers={"Authorization": f"Bot {DISCORD_BOT_TOKEN}"},
        )
        with urllib.request.urlopen(request, timeout=5) as resp:
            assert resp.headers["Content-Type"] == "application/json"
            assert resp.headers["Via"] == "1.1 google"
            data = json.loads(resp.read())
    assert data["id"] == str(fake.bots[DISCORD_BOT_TOKEN].application_id)


async def test_route_base_is_restored() -> None:
    original = discord.http.Route.BASE
    fake = FakeDiscordAPI()
    async with fake:
        with discord_py_pointed_at(fake):
            assert fake.api_base == discord.http.Route.BASE
    assert original == discord.http.Route.BASE
