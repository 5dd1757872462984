"""Self-tests of the fake Telegram Bot API, driven by the real python-telegram-bot client."""

from __future__ import annotations

import json
import re
import urllib.request
import warnings
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from telegram import Bot, InputFile, Message
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.request import HTTPXRequest

from tests.fakes.telegram_api import FakeTelegramAPI, FloodLimits
from tests.fakes.telegram_entities import utf16_len
from tests.fakes.telegram_fixtures import (
    CHANNEL_ID,
    FORUM_ID,
    GROUP_ID,
    PRIVATE_ID,
    TELEGRAM_TOKEN,
    populate_default_chats,
    telegram_api,  # noqa: F401 - the fixture, until the root conftest lists the plugin
)

PHOTO_URL = "https://cdn.example.org/img/story.jpg"
# PTB warns whenever it reads RetryAfter.retry_after as an int, including internally.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")


@pytest_asyncio.fixture
async def bot(telegram_api: FakeTelegramAPI) -> AsyncIterator[Bot]:  # noqa: F811
    async with Bot(TELEGRAM_TOKEN, base_url=telegram_api.base_url) as client:
        yield client


def ci(text: str) -> re.Pattern[str]:
    """PTB capitalizes descriptions, so match Telegram's wording case-insensitively."""
    return re.compile(re.escape(text), re.IGNORECASE)


def ci_exact(text: str) -> re.Pattern[str]:
    return re.compile(f"^{re.escape(text)}$", re.IGNORECASE)


def retry_after_of(exc: RetryAfter) -> int:
    with warnings.catch_warnings():  # PTB deprecates the int form
        warnings.simplefilter("ignore")
        value = exc.retry_after
    assert isinstance(value, int)
    return value


# --------------------------------------------------------------------------- posting
async def test_html_post_entities_count_utf16(telegram_api: FakeTelegramAPI, bot: Bot) -> None:  # noqa: F811
    html = (
        '<b>Breaking</b> 😀 <i>שלום עולם</i> <a href="https://example.com/x?a=1&amp;b=2">link</a>'
    )
    msg = await bot.send_message("@newsroom", html, parse_mode="HTML",
                                 disable_web_page_preview=True)  # fmt: skip
    stored = telegram_api.messages[CHANNEL_ID][msg.message_id]
    assert stored.text == "Breaking 😀 שלום עולם link"
    assert stored.raw == html
    assert len(stored.text) == 25
    assert utf16_len(stored.text) == 26
    assert [(e.type, e.offset, e.length) for e in stored.entities] == [
        ("bold", 0, 8), ("italic", 12, 9), ("text_link", 22, 4),
    ]  # fmt: skip
    assert stored.entities[2].url == "https://example.com/x?a=1&b=2"
    assert stored.link_preview_options == {"is_disabled": True}
    # PTB slices entities by UTF-16 offsets: it must see the same substrings.
    assert list(msg.parse_entities().values()) == ["Breaking", "שלום עולם", "link"]
    assert msg.chat.id == CHANNEL_ID
    assert msg.message_id == 1


async def test_plain_text_has_no_entities(telegram_api: FakeTelegramAPI, bot: Bot) -> None:  # noqa: F811
    msg = await bot.send_message(PRIVATE_ID, "<b>not parsed</b>", disable_notification=True)
    stored = telegram_api.messages[PRIVATE_ID][msg.message_id]
    assert stored.text == "<b>not parsed</b>"
    assert stored.entities == []
    assert stored.disable_notification is True
    second = await bot.send_message(PRIVATE_ID, "two")
    assert second.message_id == 2
    assert [m.text for m in telegram_api.all_messages()] == ["<b>not parsed</b>", "two"]


async def test_photo_by_url_and_upload(telegram_api: FakeTelegramAPI, bot: Bot) -> None:  # noqa: F811
    msg = await bot.send_photo(CHANNEL_ID, PHOTO_URL, caption="<b>Cap</b>tion", parse_mode="HTML")
    stored = telegram_api.messages[CHANNEL_ID][msg.message_id]
    assert stored.kind == "photo"
    assert stored.photo_source == PHOTO_URL
    assert stored.text == "Caption"
    assert [(e.type, e.length) for e in stored.entities] == [("bold", 3)]
    assert msg.caption == "Caption"
    assert msg.photo[-1].width == 800
    again = await bot.send_photo(CHANNEL_ID, msg.photo[-1].file_id)  # reuse by file_id
    assert again.photo[-1].file_id == msg.photo[-1].file_id
    photo = InputFile(b"\x89PNG fake bytes", filename="a.png")
    upload = await bot.send_photo(PRIVATE_ID, photo, caption="<i>up</i>", parse_mode="HTML")
    uploaded = telegram_api.messages[PRIVATE_ID][upload.message_id]
    assert uploaded.photo_source == "upload:a.png"
    assert uploaded.text == "up"  # multipart fields are parsed too
    assert uploaded.entities[0].type == "italic"
    assert telegram_api.requests[-1].method == "sendPhoto"
    with pytest.raises(BadRequest, match=ci("wrong file identifier")):
        await bot.send_photo(CHANNEL_ID, "not-a-known-file-id")


async def test_refused_photo(telegram_api: FakeTelegramAPI, bot: Bot) -> None:  # noqa: F811
    telegram_api.refuse_photo(PHOTO_URL)
    telegram_api.refuse_photo(lambda url: "broken" in url, reason="fetch_failed")
    with pytest.raises(BadRequest, match=ci("wrong file identifier/http url specified")):
        await bot.send_photo(CHANNEL_ID, PHOTO_URL)
    with pytest.raises(BadRequest, match=ci("failed to get http url content")):
        await bot.send_photo(CHANNEL_ID, "https://x.org/broken.jpg")
    assert telegram_api.all_messages() == []
    assert (await bot.send_photo(CHANNEL_ID, "https://x.org/fine.jpg")).photo


async def test_topic_post(telegram_api: FakeTelegramAPI, bot: Bot) -> None:  # noqa: F811
    msg = await bot.send_message(FORUM_ID, "in topic", message_thread_id=7)
    assert msg.message_thread_id == 7
    assert msg.is_topic_message
    assert telegram_api.messages[FORUM_ID][msg.message_id].thread_id == 7
    with pytest.raises(BadRequest, match=ci("message thread not found")):
        await bot.send_message(FORUM_ID, "nowhere", message_thread_id=8)


# --------------------------------------------------------------------------- edit / delete
async def test_edit_not_modified_and_delete(telegram_api: FakeTelegramAPI, bot: Bot) -> None:  # noqa: F811
    msg = await bot.send_message(CHANNEL_ID, "<b>v1</b>", parse_mode="HTML")
    edited = await bot.edit_message_text("<i>v2</i>", chat_id=CHANNEL_ID,
                                         message_id=msg.message_id, parse_mode="HTML")  # fmt: skip
    stored = telegram_api.messages[CHANNEL_ID][msg.message_id]
    assert isinstance(edited, Message)
    assert edited.edit_date is not None
    assert stored.edits == 1
    assert stored.text == "v2"
    assert stored.entities[0].type == "italic"
    with pytest.raises(BadRequest, match=ci("message is not modified: specified new message")):
        await bot.edit_message_text("<i>v2</i>", chat_id=CHANNEL_ID, message_id=msg.message_id,
                                    parse_mode="HTML")  # fmt: skip
    with pytest.raises(BadRequest, match=ci("there is no caption in the message to edit")):
        await bot.edit_message_caption(chat_id=CHANNEL_ID, message_id=msg.message_id, caption="c")
    with pytest.raises(BadRequest, match=ci("message to edit not found")):
        await bot.edit_message_text("x", chat_id=CHANNEL_ID, message_id=999)
    assert await bot.delete_message(CHANNEL_ID, msg.message_id) is True
    assert msg.message_id not in telegram_api.messages[CHANNEL_ID]
    assert telegram_api.deleted[0].text == "v2"
    with pytest.raises(BadRequest, match=ci("message to delete not found")):
        await bot.delete_message(CHANNEL_ID, msg.message_id)


async def test_edit_caption_and_photo_text(telegram_api: FakeTelegramAPI, bot: Bot) -> None:  # noqa: F811
    msg = await bot.send_photo(CHANNEL_ID, PHOTO_URL, caption="old")
    with pytest.raises(BadRequest, match=ci("there is no text in the message to edit")):
        await bot.edit_message_text("x", chat_id=CHANNEL_ID, message_id=msg.message_id)
    edited = await bot.edit_message_caption(chat_id=CHANNEL_ID, message_id=msg.message_id,
                                            caption="<u>new</u>", parse_mode="HTML")  # fmt: skip
    assert isinstance(edited, Message)
    assert edited.caption == "new"
    assert edited.edit_date is not None
    assert telegram_api.messages[CHANNEL_ID][msg.message_id].entities[0].type == "underline"


async def test_delete_refused_after_48_hours(telegram_api: FakeTelegramAPI, bot: Bot) -> None:  # noqa: F811
    old = await bot.send_message(GROUP_ID, "old")
    recent = await bot.send_message(GROUP_ID, "recent")
    telegram_api.age_message(GROUP_ID, old.message_id, 48 * 3600 + 1)
    with pytest.raises(BadRequest, match=ci("message can't be deleted")):
        await bot.delete_message(GROUP_ID, old.message_id)
    assert await bot.delete_message(GROUP_ID, recent.message_id)
    assert old.message_id in telegram_api.messages[GROUP_ID]
    telegram_api.advance_clock(48 * 3600)
    with pytest.raises(BadRequest, match=ci("message can't be deleted")):
        await bot.delete_messages(GROUP_ID, [old.message_id])


async def test_delete_messages(telegram_api: FakeTelegramAPI, bot: Bot) -> None:  # noqa: F811
    ids = [(await bot.send_message(PRIVATE_ID, f"m{i}")).message_id for i in range(3)]
    assert await bot.delete_messages(PRIVATE_ID, [*ids[:2], 77])
    assert list(telegram_api.messages[PRIVATE_ID]) == [ids[2]]


# --------------------------------------------------------------------------- errors
async def test_pin_and_unpin(telegram_api: FakeTelegramAPI, bot: Bot) -> None:  # noqa: F811
    first = await bot.send_message(CHANNEL_ID, "first")
    second = await bot.send_message(CHANNEL_ID, "second")
    assert await bot.pin_chat_message(CHANNEL_ID, first.message_id) is True
    assert await bot.pin_chat_message(CHANNEL_ID, second.message_id, disable_notification=True)
    assert telegram_api.pins[CHANNEL_ID] == {first.message_id: False, second.message_id: True}
    with pytest.raises(BadRequest, match=ci_exact("message to pin not found")):
        await bot.pin_chat_message(CHANNEL_ID, 999)
    # Without a message id, the most recent pin goes.
    assert await bot.unpin_chat_message(CHANNEL_ID) is True
    assert await bot.unpin_chat_message(CHANNEL_ID, first.message_id) is True
    assert telegram_api.pins[CHANNEL_ID] == {}
    assert telegram_api.unpinned == [
        (CHANNEL_ID, second.message_id),
        (CHANNEL_ID, first.message_id),
    ]
    with pytest.raises(BadRequest, match=ci_exact("message to unpin not found")):
        await bot.unpin_chat_message(CHANNEL_ID, first.message_id)
    await bot.pin_chat_message(CHANNEL_ID, first.message_id)
    await bot.delete_message(CHANNEL_ID, first.message_id)
    assert telegram_api.pins[CHANNEL_ID] == {}  # a deleted post is pinned no more


async def test_pin_rights(telegram_api: FakeTelegramAPI, bot: Bot) -> None:  # noqa: F811
    msg = await bot.send_message(GROUP_ID, "x")
    telegram_api.deny_pins(GROUP_ID)
    rights = ci_exact("not enough rights to manage pinned messages in the chat")
    with pytest.raises(BadRequest, match=rights):
        await bot.pin_chat_message(GROUP_ID, msg.message_id)
    with pytest.raises(BadRequest, match=rights):
        await bot.unpin_chat_message(GROUP_ID, msg.message_id)
    # In a channel, only an administrator pins.
    telegram_api.add_chat(-1006, type="channel", member_status="member")
    with pytest.raises(BadRequest, match=rights):
        await bot.pin_chat_message(-1006, 1)
    telegram_api.kick(CHANNEL_ID)
    with pytest.raises(Forbidden, match=ci("bot was kicked from the channel chat")):
        await bot.pin_chat_message(CHANNEL_ID, 1)
    assert telegram_api.pins.get(GROUP_ID, {}) == {}


async def test_chat_errors(telegram_api: FakeTelegramAPI, bot: Bot) -> None:  # noqa: F811
    with pytest.raises(BadRequest, match=ci_exact("chat not found")):
        await bot.send_message(-100999, "x")
    with pytest.raises(BadRequest, match=ci_exact("chat not found")):
        await bot.send_message("@nobody", "x")
    telegram_api.add_chat(-1005, type="channel", member_status="left")
    with pytest.raises(Forbidden, match=ci("bot is not a member of the channel chat")):
        await bot.send_message(-1005, "x")
    telegram_api.restrict(CHANNEL_ID)
    with pytest.raises(BadRequest, match=ci("not enough rights to send text messages to the chat")):
        await bot.send_message(CHANNEL_ID, "x")
    with pytest.raises(BadRequest, match=ci("not enough rights to send photos to the chat")):
        await bot.send_photo(CHANNEL_ID, PHOTO_URL)
    telegram_api.kick(CHANNEL_ID)
    with pytest.raises(Forbidden, match=ci("bot was kicked from the channel chat")):
        await bot.send_message(CHANNEL_ID, "x")
    telegram_api.kick(FORUM_ID)
    with pytest.raises(Forbidden, match=ci("bot was kicked from the supergroup chat")):
        await bot.send_message(FORUM_ID, "x")
    assert telegram_api.all_messages() == []
    assert telegram_api.count_status(403) == 3
    assert telegram_api.count_status(400) == 4


async def test_invalid_token(telegram_api: FakeTelegramAPI) -> None:  # noqa: F811
    request = HTTPXRequest()  # closed by hand: an uninitialized Bot's shutdown() does nothing
    stranger = Bot("999:wrong", base_url=telegram_api.base_url, request=request)
    try:
        with pytest.raises(InvalidToken):
            await stranger.send_message(CHANNEL_ID, "x")
    finally:
        await request.shutdown()
    assert telegram_api.requests[-1].status == 401


async def test_429_gives_retry_after(telegram_api: FakeTelegramAPI, bot: Bot) -> None:  # noqa: F811
    telegram_api.fail_next(method="sendMessage", chat_id="@newsroom", status=429, retry_after=7)
    await bot.send_message(PRIVATE_ID, "other chat is not affected")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(CHANNEL_ID, "x")
    assert retry_after_of(caught.value) == 7
    assert telegram_api.count_status(429) == 1
    assert (await bot.send_message(CHANNEL_ID, "x")).message_id == 1  # the fault was used up


async def test_group_migration(telegram_api: FakeTelegramAPI, bot: Bot) -> None:  # noqa: F811
    new_id = telegram_api.upgrade_to_supergroup(GROUP_ID)
    assert str(new_id).startswith("-100")
    with pytest.raises(ChatMigrated) as caught:
        await bot.send_message(GROUP_ID, "x")
    assert caught.value.new_chat_id == new_id
    msg = await bot.send_message(new_id, "x")
    assert msg.chat.type == "supergroup"
    assert telegram_api.messages[new_id][1].text == "x"


async def test_wire_envelope(telegram_api: FakeTelegramAPI) -> None:  # noqa: F811
    url = f"{telegram_api.base_url}{TELEGRAM_TOKEN}"
    telegram_api.fail_next(status=429, retry_after=3)
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/SENDMESSAGE", data={"chat_id": "42", "text": "x"}) as resp:
            assert resp.status == 429
            assert resp.headers["Retry-After"] == "3"
            assert resp.headers["Content-Type"] == "application/json"
            assert await resp.json() == {"ok": False, "error_code": 429,
                                         "description": "Too Many Requests: retry after 3",
                                         "parameters": {"retry_after": 3}}  # fmt: skip
        payload = {"chat_id": 42, "text": "<p>", "parse_mode": "HTML"}
        async with http.post(f"{url}/sendMessage", json=payload) as resp:
            body = await resp.json()
            assert resp.status == 400
            assert body["error_code"] == 400
            assert body["description"] == (
                'Bad Request: can\'t parse entities: Unsupported start tag "p" at byte offset 0'
            )
        async with http.get(f"{url}/sendMessage?chat_id=42&text=hello") as resp:
            assert (await resp.json())["result"]["text"] == "hello"
        async with http.post(f"{url}/noSuchMethod") as resp:
            assert resp.status == 404
            assert (await resp.json())["description"] == "Not Found: method not found"


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ("<p>para</p>", 'unsupported start tag "p" at byte offset 0'),
        ("<b>bold", 'can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("1 < 2", 'unsupported start tag "" at byte offset 2'),
        ("é<br>", 'unsupported start tag "br" at byte offset 2'),  # UTF-8 byte offsets
        ("x</b>", "unexpected end tag at byte offset 1"),
        ("<span>s</span>", 'tag "span" must have class "tg-spoiler" at byte offset 0'),
    ],
)
async def test_cant_parse_entities(
    telegram_api: FakeTelegramAPI,  # noqa: F811
    bot: Bot,
    html: str,
    reason: str,
) -> None:
    with pytest.raises(BadRequest) as caught:
        await bot.send_message(PRIVATE_ID, html, parse_mode="HTML")
    assert str(caught.value).lower() == f"can't parse entities: {reason}".lower()
    assert telegram_api.all_messages() == []


async def test_html_rules_accepted(telegram_api: FakeTelegramAPI, bot: Bot) -> None:  # noqa: F811
    html = ('<pre><code class="language-python">x = 1</code></pre>\n'
            '<blockquote expandable>quote</blockquote> <span class="tg-spoiler">s</span> '
            "&lt;tag&gt; &#39;q&#x27; &copy; A&B")  # fmt: skip
    msg = await bot.send_message(PRIVATE_ID, html, parse_mode="HTML")
    stored = telegram_api.messages[PRIVATE_ID][msg.message_id]
    assert stored.text == "x = 1\nquote s <tag> 'q' &copy; A&B"
    assert [e.to_json() for e in stored.entities] == [
        {"type": "pre", "offset": 0, "length": 5, "language": "python"},
        {"type": "expandable_blockquote", "offset": 6, "length": 5},
        {"type": "spoiler", "offset": 12, "length": 1},
    ]
    # Like TDLib: an inner blockquote and formatting inside <pre> are dropped, not refused.
    nested = await bot.send_message(
        PRIVATE_ID, "<blockquote>a<blockquote>b</blockquote></blockquote><pre><b>c</b></pre>",
        parse_mode="HTML",
    )  # fmt: skip
    kept = telegram_api.messages[PRIVATE_ID][nested.message_id].entities
    assert [(e.type, e.offset, e.length) for e in kept] == [("blockquote", 0, 2), ("pre", 2, 1)]


# --------------------------------------------------------------------------- lengths
async def test_length_counted_in_code_points(telegram_api: FakeTelegramAPI, bot: Bot) -> None:  # noqa: F811
    emoji = await bot.send_message(PRIVATE_ID, "😀" * 4096)  # 8192 UTF-16 units
    assert len(telegram_api.messages[PRIVATE_ID][emoji.message_id].text) == 4096
    escaped = await bot.send_message(PRIVATE_ID, "&amp;" * 4096, parse_mode="HTML")
    assert telegram_api.messages[PRIVATE_ID][escaped.message_id].text == "&" * 4096
    with pytest.raises(BadRequest, match=ci_exact("message is too long")):
        await bot.send_message(PRIVATE_ID, "a" * 4097)
    with pytest.raises(BadRequest, match=ci_exact("text is too long")):
        await bot.send_message(PRIVATE_ID, "<b></b>" * 4700, parse_mode="HTML")
    with pytest.raises(BadRequest, match=ci_exact("message caption is too long")):
        await bot.send_photo(PRIVATE_ID, PHOTO_URL, caption="c" * 1025)
    with pytest.raises(BadRequest, match=ci_exact("message text is empty")):
        await bot.send_message(PRIVATE_ID, " <b> </b>\n", parse_mode="HTML")
    assert len(telegram_api.all_messages()) == 2


# --------------------------------------------------------------------------- flood limits
async def test_flood_limit_per_chat_and_group() -> None:
    now = [1000.0]
    fake = populate_default_chats(FakeTelegramAPI(flood=FloodLimits(), clock=lambda: now[0]))
    async with fake, Bot(TELEGRAM_TOKEN, base_url=fake.base_url) as bot:
        for i in range(3):  # the burst
            await bot.send_message(PRIVATE_ID, f"burst {i}")
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(PRIVATE_ID, "too fast")
        assert retry_after_of(caught.value) == 1
        for i in range(5):  # paced at the allowed rate: never refused
            now[0] += 1.0
            await bot.send_message(PRIVATE_ID, f"paced {i}")
        for i in range(20):
            await bot.send_message(CHANNEL_ID, f"group {i}")
        with pytest.raises(RetryAfter) as caught:
            await bot.edit_message_text("edit", chat_id=CHANNEL_ID, message_id=1)
        assert 59 <= retry_after_of(caught.value) <= 60
        assert fake.count_status(429) == 2
        assert len(fake.all_messages()) == 28


async def test_flood_limits_scaled_and_global() -> None:
    now = [0.0]
    limits = FloodLimits(global_per_second=5).scaled(60)  # group window now 1 s
    fake = populate_default_chats(FakeTelegramAPI(flood=limits, clock=lambda: now[0]))
    for n in range(6):
        fake.add_chat(-2000 - n, type="group")
    async with fake, Bot(TELEGRAM_TOKEN, base_url=fake.base_url) as bot:
        for n in range(5):
            await bot.send_message(-2000 - n, "x")
        with pytest.raises(RetryAfter):
            await bot.send_message(-2005, "over the global limit")
        now[0] += 1.0 / 60
        await bot.send_message(-2005, "the window moved on")
        assert fake.count_status(429) == 1


# --------------------------------------------------------------------------- faults
async def test_timeout_in_doubt() -> None:
    fake = populate_default_chats(FakeTelegramAPI())
    request = HTTPXRequest(read_timeout=0.2, connect_timeout=1.0)
    async with fake, Bot(TELEGRAM_TOKEN, base_url=fake.base_url, request=request) as bot:
        fake.timeout_next(method="sendMessage", seconds=1.0, then_process=True)
        with pytest.raises(TimedOut):
            await bot.send_message(CHANNEL_ID, "stored anyway")
        assert [m.text for m in fake.all_messages()] == ["stored anyway"]
        fake.timeout_next(method="sendMessage", seconds=1.0, then_process=False)
        with pytest.raises(TimedOut):
            await bot.send_message(CHANNEL_ID, "lost")
        fake.drop_next(chat_id=CHANNEL_ID, then_process=True)
        with pytest.raises(NetworkError):
            await bot.send_message(CHANNEL_ID, "dropped but stored")
        assert [m.text for m in fake.all_messages()] == ["stored anyway", "dropped but stored"]
        assert [r.fault for r in fake.requests[-3:]] == ["timeout", "timeout", "drop"]


async def _chaos_run(seed: int) -> tuple[list[str], list[str]]:
    fake = populate_default_chats(FakeTelegramAPI())
    fake.set_fault_rate(0.5, seed=seed)
    fake.fault_timeout_seconds = 0.3
    request = HTTPXRequest(read_timeout=0.1)
    outcomes = []
    async with fake, Bot(TELEGRAM_TOKEN, base_url=fake.base_url, request=request) as bot:
        for i in range(24):
            try:
                await bot.send_message(PRIVATE_ID, f"m{i}")
                outcomes.append("ok")
            except (NetworkError, RetryAfter) as exc:
                outcomes.append(type(exc).__name__)
        return outcomes, [m.text for m in fake.all_messages()]


async def test_random_faults_reproducible_by_seed() -> None:
    first, second, other = await _chaos_run(7), await _chaos_run(7), await _chaos_run(8)
    assert first == second
    assert first != other
    outcomes, stored = first
    assert "ok" in outcomes
    assert len(set(outcomes)) >= 3
    assert len(stored) > outcomes.count("ok")  # some timeouts/drops were stored anyway


def test_running_in_thread_serves_sync_code() -> None:
    fake = populate_default_chats(FakeTelegramAPI())
    with fake.running_in_thread():
        url = f"{fake.base_url}{TELEGRAM_TOKEN}/sendMessage?chat_id=42&text=sync"
        with urllib.request.urlopen(url, timeout=5) as resp:
            assert json.loads(resp.read())["result"]["chat"]["id"] == PRIVATE_ID
    assert fake.messages[PRIVATE_ID][1].text == "sync"
