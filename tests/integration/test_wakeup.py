"""Queueing a story wakes a running worker in another process at once, with no poll to wait.

The worker's safety-net tick is set to ten minutes, so only the wake-up path (PostgreSQL
LISTEN/NOTIFY, SQLite's data_version) can explain a prompt post.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from distributor import editorial
from distributor.store import Store
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_fixtures import CHANNEL_ID, TELEGRAM_TOKEN
from tests.helpers import write_config

ROOT = Path(__file__).resolve().parents[2]


async def test_a_queued_story_wakes_a_worker_in_another_process(
    telegram_api: FakeTelegramAPI, store_url: str, tmp_path: Path
) -> None:
    loaded = write_config(
        tmp_path,
        {
            "version": 1,
            "store": {"url": store_url},
            "dispatch": {"tick_seconds": 600},
            "channels": [
                {"name": "tg", "platform": "telegram", "token": TELEGRAM_TOKEN,
                 "chat": str(CHANNEL_ID), "api_base_url": telegram_api.base_url}
            ],
        },
    )  # fmt: skip
    store = await Store.open(loaded.app.store, auto_upgrade=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DISTRIBUTOR_CONFIG": str(loaded.path)}
    worker = subprocess.Popen(
        [sys.executable, "-m", "distributor", "run"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        await asyncio.sleep(3)  # started, routed nothing, idle until the next wake-up
        story = tmp_path / "s.txt"
        story.write_text("Woken up\n\nA story arrives. The worker posts it.\n")
        options = editorial.options_for(loaded.app, store)
        await editorial.queue_files(store, [story], options)
        deadline = time.monotonic() + 10
        while not telegram_api.all_messages() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert [m.text.splitlines()[0] for m in telegram_api.all_messages()] == ["Woken up"]
    finally:
        worker.terminate()
        _, err = worker.communicate(timeout=30)
        await store.close()
    assert worker.returncode == 0, err
