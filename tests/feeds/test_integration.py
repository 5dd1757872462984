"""The feeds wired in: config, `queue` language detection, `run --once`, the CLI commands."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from distributor import editorial, status_report
from distributor.config import AppConfig
from distributor.configload import load_config
from distributor.service import Service
from distributor.store import Store
from tests.conftest import FakeClock
from tests.feeds.documents import Channel, Item, page, rss
from tests.feeds.server import HTML, FeedServer, Reply
from tests.helpers import outbox_config

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DISTRIBUTOR_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "distributor", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_app_config_feeds_and_unique_names() -> None:
    app = AppConfig(version=1, feeds=[{"name": "a", "url": "https://x.org/f"}])
    assert app.feeds[0].interval == 300 and app.default_language == "en"
    with pytest.raises(ValidationError, match="used 2 times"):
        AppConfig(version=1, feeds=[{"name": "a", "url": "https://x.org/f"}] * 2)


async def test_queue_detects_the_language_when_not_given(
    tmp_path: Path, sqlite_store: Store
) -> None:
    (tmp_path / "a.md").write_text(
        "# Der Stadtrat beschließt die Sanierung\n\n"
        "Der Stadtrat hat am Dienstagabend einen Plan zur Sanierung der Schulen beschlossen.\n"
    )
    (tmp_path / "b.md").write_text(
        "---\nlanguage: it\n---\n# Der Stadtrat beschließt\n\n"
        "Der Stadtrat hat am Dienstagabend einen Plan beschlossen.\n"
    )
    app = AppConfig(version=1, default_language="fr")
    options = editorial.options_for(app, sqlite_store)
    outcome = await editorial.queue_files(
        sqlite_store, [tmp_path / "a.md", tmp_path / "b.md"], options
    )
    assert [d.language for _, _, d in outcome.queued] == ["de", "it"]


async def test_run_once_polls_feeds_first_and_status_shows_them(
    tmp_path: Path, server: FeedServer, clock: FakeClock
) -> None:
    server.set(
        "/feed.xml",
        Reply(rss(Channel(items=[Item(guid="1", link="/s/1", title="Hello from the feed")]))),
    )
    data = outbox_config(
        f"sqlite+aiosqlite:///{tmp_path / 's.sqlite3'}",
        tmp_path,
        feeds=[{"name": "wire", "url": server.url("/feed.xml"), "backfill": 1}],
    )
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    loaded = load_config(path, environ={})
    report = await Service(loaded, clock=clock, workdir=tmp_path).run_once()
    assert report.done == 3
    store = await Store.open(loaded.app.store, clock=clock)
    try:
        shown = await status_report.collect(store, loaded.app)
    finally:
        await store.close()
    assert shown["feeds"][0]["name"] == "wire" and shown["feeds"][0]["status"] == "ok"
    assert shown["articles"][0]["title"] == "Hello from the feed"


async def test_cli_from_url_feeds_list_and_poll(tmp_path: Path, server: FeedServer) -> None:
    server.set("/en", Reply(page("en"), content_type=HTML))
    server.set("/img", Reply(b"GIF", content_type="image/gif"))
    server.set("/feed.xml", Reply(rss(Channel(items=[Item(guid="1", link="/s/1", title="One")]))))
    data = outbox_config(
        f"sqlite+aiosqlite:///{tmp_path / 's.sqlite3'}",
        tmp_path,
        feeds=[{"name": "wire", "url": server.url("/feed.xml")}],
    )
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(data))

    queued = await asyncio.to_thread(
        cli,
        "queue",
        "-c",
        str(cfg),
        "--from-url",
        server.url("/en"),
        server.url("/img"),
        cwd=tmp_path,
    )
    assert queued.returncode == 1, queued.stderr
    assert "queued #1: Council approves plan" in queued.stdout and "(en," in queued.stdout
    assert f"{server.url('/img')}: not an HTML page (image/gif)" in queued.stderr

    polled = await asyncio.to_thread(cli, "feeds", "poll", "wire", "-c", str(cfg), cwd=tmp_path)
    assert polled.returncode == 0, polled.stderr
    assert "wire: read, 0 new stories queued, 1 remembered" in polled.stdout
    listed = await asyncio.to_thread(cli, "feeds", "list", "-c", str(cfg), cwd=tmp_path)
    assert listed.stdout.split("\t")[:2] == ["wire", "ok"], listed
    unknown = await asyncio.to_thread(cli, "feeds", "poll", "nope", "-c", str(cfg), cwd=tmp_path)
    assert unknown.returncode == 2 and "no feed named 'nope'" in unknown.stderr
    checked = await asyncio.to_thread(cli, "check-config", "-c", str(cfg), cwd=tmp_path)
    assert "feed wire:" in checked.stdout
    st = await asyncio.to_thread(cli, "status", "-c", str(cfg), cwd=tmp_path)
    assert "Feeds" in st.stdout and "wire" in st.stdout
    files = await asyncio.to_thread(
        cli,
        "queue",
        "-c",
        str(cfg),
        str(ROOT / "config" / "samples" / os.listdir(ROOT / "config" / "samples")[0]),
        cwd=tmp_path,
    )
    assert files.returncode == 0, files.stderr
