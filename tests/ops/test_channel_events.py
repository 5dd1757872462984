"""A channel paused or resumed by hand on the desk is announced to the event hooks.

The desk runs over a real store with a webhook subscriber configured; a worker's run posts
the queued events to a real HTTP receiver, which must get ``channel.paused`` with who paused
it and why, then ``channel.resumed``. Pausing a channel already paused announces nothing;
``distributor channel resume`` announces its resume too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from aiohttp import web

from distributor.service import Service
from distributor.store import Store
from distributor.web import WebContext, create_app
from tests.desk.conftest import desk_config, open_desk
from tests.desk.test_pages import csrf_of, login
from tests.helpers import outbox_config, write_config
from tests.integration.test_cli import cli
from tests.ops.test_hooks import SECRET, Receiver, hook_rows, verified

NOBODY = "http://127.0.0.1:9/events"  # nothing listens there


@pytest_asyncio.fixture
async def cms() -> AsyncIterator[Receiver]:
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


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_a_desk_pause_and_resume_reach_the_hooks(
    cms: Receiver, store: Store, tmp_path: Path
) -> None:
    async with (await open_desk(store, tmp_path)).http:  # creates its users
        pass
    data = desk_config(store.engine.url.render_as_string(False), tmp_path)
    events = ["channel.paused", "channel.resumed"]
    data["hooks"] = [{"name": "cms", "url": cms.url, "secret": SECRET, "events": events}]
    loaded = write_config(tmp_path, data, name="hooked.yaml")
    store.hooks = loaded.app.hooks  # as the web command's store has them
    context = WebContext(loaded.app, store, loaded.renderer(), tmp_path / "outbox", store.clock)
    transport = httpx.ASGITransport(app=create_app(context))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        await login(http, "root")
        csrf = csrf_of(await http.get("/desk/channels"))
        pause = "/desk/channels/telegram/pause"
        reason = "bot token rotated"
        assert (await http.post(pause, data={"csrf": csrf, "reason": reason})).status_code == 303
        assert (await http.post(pause, data={"csrf": csrf, "reason": "again"})).status_code == 303
        resume = "/desk/channels/telegram/resume"
        assert (await http.post(resume, data={"csrf": csrf})).status_code == 303

    await Service(loaded, workdir=tmp_path).run_once()

    got = [(e["type"], e["data"]) for e in cms.events()]
    assert got == [
        ("channel.paused", {"channel": "telegram", "reason": reason, "actor": "user:root"}),
        ("channel.resumed", {"channel": "telegram", "actor": "user:root"}),
    ]
    assert all(verified(headers, body) for headers, body in cms.got)


async def test_channel_resume_on_the_command_line_is_announced(tmp_path: Path) -> None:
    data = outbox_config(f"sqlite+aiosqlite:///{tmp_path / 'news.sqlite3'}", tmp_path)
    events = ["channel.resumed"]
    data["hooks"] = [{"name": "cms", "url": NOBODY, "secret": SECRET, "events": events}]
    loaded = write_config(tmp_path, data)
    store = await Store.open(loaded.app.store, auto_upgrade=True)
    try:
        await store.pause_channel("telegram", "bot token rotated")
    finally:
        await store.close()
    env = {"DISTRIBUTOR_CONFIG": str(loaded.path)}
    for expected in ("telegram: resumed", "telegram: was not paused"):
        resumed = cli("channel", "resume", "telegram", cwd=tmp_path, env=env)
        assert resumed.returncode == 0 and expected in resumed.stdout, resumed.stderr
    rows = await hook_rows(loaded)  # nothing listens: the event waits in the queue
    assert [(r.event, r.payload["data"]) for r in rows] == [
        ("channel.resumed", {"channel": "telegram", "actor": "cli"})
    ]
