"""Service start-up is all or nothing: whatever opened before a failure is closed again."""

from __future__ import annotations

from pathlib import Path

import discord.http
import pytest

from distributor.service import Service
from tests.helpers import write_config


async def test_a_failing_adapter_closes_what_was_opened(tmp_path: Path) -> None:
    original_root = discord.http.Route.BASE
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the outbox folder should be", encoding="utf-8")
    loaded = write_config(
        tmp_path,
        {
            "version": 1,
            "store": {"url": f"sqlite+aiosqlite:///{tmp_path / 'store.sqlite3'}"},
            "outbox_dir": str(blocker),
            "channels": [
                # Started first: it points discord.py at its API root, a process-wide setting.
                {
                    "name": "discord",
                    "platform": "discord",
                    "mode": "bot",
                    "token": "bot-token",
                    "channel_id": 123456789012345678,
                    "api_base_url": "http://127.0.0.1:9/api/v10",
                },
                # Then this one cannot create its outbox folder under a file.
                {"name": "telegram", "platform": "telegram", "dry_run": True, "chat": "@news"},
            ],
        },
    )
    service = Service(loaded, workdir=tmp_path)
    with pytest.raises(OSError, match="not-a-folder"):
        await service.start()
    # The Discord adapter was closed: discord.py's API root is back to what it was.
    assert original_root == discord.http.Route.BASE
    # Nothing is left half-open, and closing again is harmless.
    await service.close()
    with pytest.raises(RuntimeError, match="not started"):
        service._started()


async def test_a_started_service_closes_everything(tmp_path: Path) -> None:
    original_root = discord.http.Route.BASE
    loaded = write_config(
        tmp_path,
        {
            "version": 1,
            "store": {"url": f"sqlite+aiosqlite:///{tmp_path / 'store.sqlite3'}"},
            "outbox_dir": str(tmp_path / "outbox"),
            "channels": [
                {
                    "name": "discord",
                    "platform": "discord",
                    "mode": "bot",
                    "token": "bot-token",
                    "channel_id": 123456789012345678,
                    "api_base_url": "http://127.0.0.1:9/api/v10",
                },
            ],
        },
    )
    service = Service(loaded, workdir=tmp_path)
    await service.start()
    assert discord.http.Route.BASE == "http://127.0.0.1:9/api/v10"
    await service.close()
    assert original_root == discord.http.Route.BASE
