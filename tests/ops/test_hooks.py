"""Signed event webhooks: posted, retried with backoff, never lost, never resent after a 2xx."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from distributor import errors
from distributor.configload import LoadedConfig
from distributor.hooks.models import HookEvent, HookStatus
from distributor.ledger import Ledger
from distributor.service import Service
from distributor.store import Store
from tests.helpers import draft, outbox_config, write_config
from tests.integration.test_cli import cli

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


@dataclass
class Receiver:
    """A CMS endpoint: records what it got, answers the scripted statuses first."""

    statuses: list[int] = field(default_factory=list)
    got: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.got.append((dict(request.headers), await request.read()))
        return web.Response(status=self.statuses.pop(0) if self.statuses else 204)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.got]


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = web.Application()
    app.router.add_post("/events", found.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    found.url = f"http://127.0.0.1:{port}/events"
    yield found
    await runner.cleanup()


def config(tmp_path: Path, store_url: str, url: str, events: list[str]) -> LoadedConfig:
    data = outbox_config(store_url, tmp_path)
    data["dispatch"] = {"backoff_base_seconds": 0.01, "backoff_max_seconds": 0.02}
    data["hooks"] = [{"name": "cms", "url": url, "secret": SECRET, "events": events}]
    return write_config(tmp_path, data)


def verified(headers: dict[str, str], body: bytes) -> bool:
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    digest = hmac.new(b"k" * 32, signed, hashlib.sha256).digest()
    return headers["webhook-signature"] == "v1," + base64.b64encode(digest).decode()


async def queue(loaded: LoadedConfig, n: int = 1) -> int:
    store = await Store.open(loaded.app.store)
    store.hooks = loaded.app.hooks
    try:
        past = datetime.now(UTC) - timedelta(seconds=1)
        return (await store.add_article(draft(n, publish_at=past))).article_id
    finally:
        await store.close()


async def hook_rows(loaded: LoadedConfig) -> list[HookEvent]:
    from sqlalchemy import select

    store = await Store.open(loaded.app.store)
    try:
        async with store.session() as session:
            return list((await session.scalars(select(HookEvent).order_by(HookEvent.id))).all())
    finally:
        await store.close()


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_events_are_signed_and_sent_once(
    receiver: Receiver, store_url: str, tmp_path: Path
) -> None:
    loaded = config(tmp_path, store_url, receiver.url, ["story.queued", "delivery.sent"])
    article_id = await queue(loaded)

    await Service(loaded, workdir=tmp_path).run_once()

    events = receiver.events()
    assert [e["type"] for e in events].count("story.queued") == 1
    sent = [e["data"] for e in events if e["type"] == "delivery.sent"]
    assert sorted(d["channel"] for d in sent) == ["discord", "email", "telegram"]
    assert all(d["story_id"] == article_id and d["refs"] for d in sent)
    assert all(d["links"] == [] for d in sent)  # dry-run posts have no address
    assert all(verified(headers, body) for headers, body in receiver.got)
    assert len({h["webhook-id"] for h, _ in receiver.got}) == 4

    await Service(loaded, workdir=tmp_path).run_once()  # nothing new: nothing posted again
    assert len(receiver.got) == 4


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_failures_are_retried_with_the_same_id_until_a_2xx(
    receiver: Receiver, store_url: str, tmp_path: Path
) -> None:
    loaded = config(tmp_path, store_url, receiver.url, ["story.queued", "story.retracted"])
    receiver.statuses = [500, 204, 429]  # queued: 500; retracted: 204; queued again: 429
    article_id = await queue(loaded)
    store = await Store.open(loaded.app.store)
    store.hooks = loaded.app.hooks
    try:
        await Ledger(store).retract(article_id)
    finally:
        await store.close()

    for _ in range(50):  # the backoff is 10-20 ms here; each run posts what is due
        await Service(loaded, workdir=tmp_path).run_once()
        if all(row.status == HookStatus.SENT for row in await hook_rows(loaded)):
            break
    rows = await hook_rows(loaded)
    assert [r.event for r in rows] == ["story.queued", "story.retracted"]
    assert all(r.status == HookStatus.SENT for r in rows)
    ids = [h["webhook-id"] for h, _ in receiver.got]
    # story.queued failed twice (500, 429) then went through, with one id all along.
    assert ids.count(rows[0].message_id) == 3 and ids.count(rows[1].message_id) == 1
    assert rows[0].attempts == 2


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_an_unreachable_receiver_loses_nothing(
    receiver: Receiver, store_url: str, tmp_path: Path
) -> None:
    loaded = config(tmp_path, store_url, "http://127.0.0.1:9/events", ["story.queued"])
    await queue(loaded)
    await Service(loaded, workdir=tmp_path).run_once()
    [row] = await hook_rows(loaded)
    assert row.status == HookStatus.PENDING and row.attempts == 1
    assert row.last_error and "Connect" in row.last_error

    # The receiver is back (and the config points at it): the same event goes out.
    fixed = config(tmp_path, store_url, receiver.url, ["story.queued"])
    for _ in range(50):
        await Service(fixed, workdir=tmp_path).run_once()
        if receiver.got:
            break
    [(headers, body)] = receiver.got
    assert headers["webhook-id"] == row.message_id and verified(headers, body)


def test_a_short_secret_is_refused(tmp_path: Path) -> None:
    data = outbox_config("sqlite+aiosqlite:///x.sqlite3", tmp_path)
    data["hooks"] = [{"name": "cms", "url": "https://cms.example.org/h", "secret": "short",
                      "events": ["story.queued"]}]  # fmt: skip
    with pytest.raises(errors.ConfigError, match="24"):
        write_config(tmp_path, data)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_status_shows_waiting_and_dead_events(
    receiver: Receiver, store_url: str, tmp_path: Path
) -> None:
    data = outbox_config(store_url, tmp_path)
    data["hooks"] = [
        # Refuses everything: its one attempt kills the event.
        {"name": "cms", "url": receiver.url, "secret": SECRET, "events": ["story.queued"],
         "max_attempts": 1},
        # Unreachable: the event waits for its next attempt.
        {"name": "archive", "url": "http://127.0.0.1:9/events", "secret": SECRET,
         "events": ["story.queued"]},
    ]  # fmt: skip
    loaded = write_config(tmp_path, data)
    receiver.statuses = [503]
    await queue(loaded)
    await Service(loaded, workdir=tmp_path).run_once()

    result = await asyncio.to_thread(cli, "status", "--json", "-c", str(loaded.path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    hooks = {row["name"]: row for row in json.loads(result.stdout)["hooks"]}
    assert (hooks["cms"]["pending"], hooks["cms"]["dead"]) == (0, 1)
    assert hooks["cms"]["last_error"] == "HTTP 503"
    assert (hooks["archive"]["pending"], hooks["archive"]["dead"]) == (1, 0)
    assert hooks["archive"]["oldest_pending_at"] and "Connect" in hooks["archive"]["last_error"]
    assert SECRET not in result.stdout

    text = await asyncio.to_thread(cli, "status", "-c", str(loaded.path), cwd=tmp_path)
    assert "Event hooks" in text.stdout and "HTTP 503" in text.stdout
