"""The platforms without an HTTP API: email (aiosmtpd) and the outbox (files)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from pydantic import SecretStr

from distributor import errors
from distributor.adapter import ChannelAdapter
from distributor.config import StoreConfig
from distributor.store import Store
from distributor.types import MessageRef
from distributor_channels.email.config import EmailChannelConfig
from distributor_channels.telegram.config import TelegramChannelConfig
from tests.contract.harness import Env, Harness, Platform, Story
from tests.email.world import World
from tests.fakes.smtp import FakeSMTP

READER = "reader@example.org"
LOGIN = ("newsroom", "the-right-one")
# aiosmtpd warns when it takes a password without TLS: on 127.0.0.1 in a test, that is fine.
AUTH_WITHOUT_TLS = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


class EmailHarness(Harness):
    """The email channel of ``tests.email.world``: one confirmed reader, a server with a login."""

    world: World

    async def story(self, title: str) -> Story:
        # The fan-out records each reader against the delivery: it must be a real one.
        message, context = await self.world.story(next(self._ids), title=title)
        return Story(title, message, context.ticket)

    def _mails(self, refs: Sequence[MessageRef]) -> list[str]:
        [ref] = refs
        local = ref.message_id.partition("@")[0]  # a<article>.<list>; each reader's adds .r<id>
        return [
            str(mail.message["Subject"])
            for mail in self.world.smtp.messages
            if str(mail.message["Message-ID"]).startswith(f"<{local}.")
        ]

    def text(self, refs: Sequence[MessageRef]) -> str | None:
        return "\n".join(self._mails(refs)) or None

    def post_count(self) -> int:
        return len(self.world.smtp.messages)

    def script_throttle(self, retry_after: int) -> None:
        self.world.smtp.script_rcpt(READER, f"451 4.7.1 Too many messages, retry in {retry_after}s")

    async def with_bad_credentials(self) -> ChannelAdapter:
        smtp = self.world.channel.smtp
        assert smtp is not None
        wrong = smtp.model_copy(update={"password": SecretStr("not-the-password")})
        return await self.opened(self.world.adapter(smtp=wrong))


@asynccontextmanager
async def open_email(env: Env) -> AsyncIterator[EmailHarness]:
    url = f"sqlite+aiosqlite:///{env.tmp_path / 'email.sqlite3'}"
    store = await Store.open(StoreConfig(url=url), clock=env.clock, auto_upgrade=True)
    try:
        with FakeSMTP(username=LOGIN[0], password=LOGIN[1]) as server:
            smtp = {"host": server.host, "port": server.port, "security": "none"}
            smtp.update(username=LOGIN[0], password=LOGIN[1])
            async with World.open(store, url, server, env.clock, env.tmp_path, smtp=smtp) as world:
                await world.subscribe(READER)
                harness = EmailHarness(env)
                harness.world = world
                harness.adapter = await harness.opened(world.adapter())
                assert isinstance(harness.adapter.config, EmailChannelConfig)
                try:
                    yield harness
                finally:
                    await harness.aclose()
    finally:
        await store.close()


# <article>-<slug>-v<version>-<operation><suffix>, as the outbox names its files.
OUTBOX_FILE = re.compile(
    r"^(?P<article>\d+)-.*-v(?P<version>\d+)-(?P<operation>send|edit|delete)\."
)
OPERATION_ORDER = {"send": 0, "edit": 1, "delete": 2}


class OutboxHarness(Harness):
    """A dry-run Telegram channel: the outbox writes what would have gone to Telegram."""

    directory: Path

    def _latest(self) -> dict[str, Path]:
        """Each story's last file: what a reader would see now (a delete: nothing)."""
        latest: dict[str, tuple[tuple[int, int], Path]] = {}
        for path in self.directory.iterdir():
            found = OUTBOX_FILE.match(path.name)
            if found is None:
                continue
            rank = (int(found["version"]), OPERATION_ORDER[found["operation"]])
            if found["article"] not in latest or rank > latest[found["article"]][0]:
                latest[found["article"]] = (rank, path)
        return {article: path for article, (_, path) in latest.items()}

    def _live(self) -> dict[str, Path]:
        return {a: p for a, p in self._latest().items() if "-delete." not in p.name}

    def text(self, refs: Sequence[MessageRef]) -> str | None:
        [ref] = refs
        found = OUTBOX_FILE.match(ref.message_id)
        assert found is not None, ref
        path = self._live().get(found["article"])
        return None if path is None else path.read_text(encoding="utf-8")

    def post_count(self) -> int:
        return len(self._live())


@asynccontextmanager
async def open_outbox(env: Env) -> AsyncIterator[OutboxHarness]:
    channel = TelegramChannelConfig.model_validate(
        {"name": "tg-dry", "platform": "telegram", "chat": "@newsroom", "dry_run": True}
    )
    harness = OutboxHarness(env)
    harness.adapter = await harness.build(channel)
    harness.directory = env.tmp_path / "outbox" / channel.name
    try:
        yield harness
    finally:
        await harness.aclose()


EMAIL = Platform(
    "email",
    open_email,
    idempotent=True,
    supports_edit=False,
    supports_delete=False,
    missing_delete=None,
    throttled=errors.TransientDeliveryError,
    marks=(AUTH_WITHOUT_TLS,),
)
OUTBOX = Platform(
    "outbox", open_outbox, idempotent=True, missing_delete=None, throttled=None, credentials=False
)
