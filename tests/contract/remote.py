"""The platforms reached over HTTP: Telegram, and Discord as a bot and through a webhook."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from aiohttp import web
from pydantic import SecretStr

from distributor.adapter import ChannelAdapter
from distributor.types import MessageRef
from tests.contract.harness import Env, HttpHarness, Platform
from tests.discord.conftest import LOOSE_LIMITS
from tests.discord.conftest import channel_config as discord_channel
from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.discord_fixtures import (
    DISCORD_WEBHOOK_ID,
    discord_py_pointed_at,
    populate_default_world,
)
from tests.fakes.discord_models import WEBHOOK_URL_BASE
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_fixtures import TELEGRAM_TOKEN, populate_default_chats
from tests.fakes.telegram_state import MUTATING_METHODS
from tests.telegram.conftest import channel_config as telegram_channel

WRONG_TELEGRAM_TOKEN = "987654321:AAWrongTokenWrongTokenWrongToken-xyz"
REVOKED_BOT_TOKEN = "MTE4NzQwMjczMTE4NTg4MTA5Mw.GxF4kQ.revoked-token-xyz"
WRONG_WEBHOOK_URL = f"{WEBHOOK_URL_BASE}/{DISCORD_WEBHOOK_ID}/{'W' * 68}"
CREATE_ROUTE = {
    "bot": "POST /channels/{channel_id}/messages",
    "webhook": "POST /webhooks/{webhook_id}/{webhook_token}",
}


class TelegramHarness(HttpHarness):
    fake: FakeTelegramAPI

    def is_posting(self, request: web.Request) -> bool:
        return request.match_info.get("method", "").lower() in MUTATING_METHODS

    def text(self, refs: Sequence[MessageRef]) -> str | None:
        [ref] = refs
        stored = self.fake.messages.get(int(ref.target), {}).get(int(ref.message_id))
        return None if stored is None else stored.text

    def post_count(self) -> int:
        return len(self.fake.all_messages())

    def script_throttle(self, retry_after: int) -> None:
        self.fake.fail_next(status=429, retry_after=retry_after)

    async def with_bad_credentials(self) -> ChannelAdapter:
        wrong = telegram_channel(
            self.fake.base_url, name="tg-wrong", token=SecretStr(WRONG_TELEGRAM_TOKEN)
        )
        return await self.build(wrong)


@asynccontextmanager
async def open_telegram(env: Env) -> AsyncIterator[TelegramHarness]:
    fake = populate_default_chats(FakeTelegramAPI(tokens=(TELEGRAM_TOKEN,), flood=None))
    async with fake:
        harness = TelegramHarness(env)
        harness.fake = fake
        harness.adapter = await harness.build(telegram_channel(fake.base_url))
        try:
            yield harness
        finally:
            await harness.aclose()


class DiscordHarness(HttpHarness):
    fake: FakeDiscordAPI

    def __init__(self, env: Env, mode: str) -> None:
        super().__init__(env)
        self.mode = mode

    def text(self, refs: Sequence[MessageRef]) -> str | None:
        [ref] = refs
        for stored in self.fake.all_messages():
            if str(stored.id) == ref.message_id:
                parts = [stored.content]
                for embed in stored.embeds:
                    parts += [str(embed.get("title", "")), str(embed.get("description", ""))]
                return "\n".join(parts)
        return None

    def post_count(self) -> int:
        return len(self.fake.all_messages())

    def script_throttle(self, retry_after: int) -> None:
        # Longer than the channel lets a worker sleep in place: it must come back as an error.
        self.fake.fail_next(route=CREATE_ROUTE[self.mode], status=429, retry_after=retry_after)

    async def with_bad_credentials(self) -> ChannelAdapter:
        if self.mode == "bot":
            wrong = discord_channel(self.fake, "bot", name="news-wrong", token=REVOKED_BOT_TOKEN)
        else:
            wrong = discord_channel(
                self.fake, "webhook", name="news-wrong", webhook_url=WRONG_WEBHOOK_URL
            )
        return await self.build(wrong)


def open_discord(mode: str) -> Callable[[Env], AbstractAsyncContextManager[DiscordHarness]]:
    @asynccontextmanager
    async def open_mode(env: Env) -> AsyncIterator[DiscordHarness]:
        fake = FakeDiscordAPI(rate_limits=LOOSE_LIMITS)
        populate_default_world(fake)
        # Route.BASE pointed at the fake too, as a safety net: nothing can reach discord.com.
        async with fake:
            with discord_py_pointed_at(fake):
                harness = DiscordHarness(env, mode)
                harness.fake = fake
                harness.adapter = await harness.build(discord_channel(fake, mode))
                try:
                    yield harness
                finally:
                    await harness.aclose()

    return open_mode


TELEGRAM = Platform("telegram", open_telegram, idempotent=False)
DISCORD_BOT = Platform("discord-bot", open_discord("bot"), idempotent=True)
DISCORD_WEBHOOK = Platform("discord-webhook", open_discord("webhook"), idempotent=False)
