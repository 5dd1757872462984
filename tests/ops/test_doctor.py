"""`distributor doctor` against the fakes, a real SMTP server and a local DNS server."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_fixtures import CHANNEL_ID, GROUP_ID, TELEGRAM_TOKEN
from tests.integration.test_cli import cli

SECRET_HALF = TELEGRAM_TOKEN.split(":", 1)[1]


def write(tmp_path: Path, channels: list[dict[str, Any]], **extra: Any) -> Path:
    path = tmp_path / "news.yaml"
    data = {
        "version": 1,
        "store": {"url": f"sqlite+aiosqlite:///{tmp_path / 'news.sqlite3'}"},
        "channels": channels,
        **extra,
    }
    path.write_text(yaml.safe_dump(data))
    return path


async def doctor(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN}
    return await asyncio.to_thread(
        cli, "doctor", "-c", str(config), *args, cwd=config.parent, env=env
    )


def rows(output: str) -> dict[tuple[str, str], str]:
    """(target, check) → "ok" or "FAIL", read from the printed table."""
    found = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip("│┃ ").split("│")]
        if len(cells) >= 3 and cells[2] in ("ok", "FAIL"):
            found[(cells[0], cells[1])] = cells[2]
    return found


def telegram(name: str, chat: str, api: FakeTelegramAPI) -> dict[str, Any]:
    return {"name": name, "platform": "telegram", "token": "${TELEGRAM_BOT_TOKEN}",
            "chat": chat, "api_base_url": api.base_url}  # fmt: skip


async def test_telegram_checks_pass_then_name_what_is_wrong(
    telegram_api: FakeTelegramAPI, tmp_path: Path
) -> None:
    config = write(tmp_path, [telegram("news", "@newsroom", telegram_api),
                              telegram("group", str(GROUP_ID), telegram_api)])  # fmt: skip
    good = await doctor(config)
    assert good.returncode == 0, good.stdout + good.stderr
    assert rows(good.stdout) == {
        ("store", "database"): "ok",
        ("store", "schema"): "ok",
        ("news", "bot token (getMe)"): "ok",
        ("news", "chat exists"): "ok",
        ("news", "bot may post"): "ok",
        ("group", "bot token (getMe)"): "ok",
        ("group", "chat exists"): "ok",
        ("group", "bot may post"): "ok",
    }

    telegram_api.restrict(CHANNEL_ID, can_post_messages=False)
    telegram_api.kick(GROUP_ID)
    bad = await doctor(config)
    assert bad.returncode == 1
    found = rows(bad.stdout)
    assert found[("news", "bot may post")] == "FAIL"
    assert found[("group", "chat exists")] == "FAIL"
    assert "kicked" in bad.stdout and "Post messages" in bad.stdout
    assert "1 check(s) failed" not in bad.stderr and "2 check(s) failed" in bad.stderr
    assert telegram_api.all_messages() == []  # nothing was posted
    assert SECRET_HALF not in bad.stdout + bad.stderr


async def test_a_refused_token_and_an_unknown_chat(
    telegram_api: FakeTelegramAPI, tmp_path: Path
) -> None:
    wrong = {**telegram("news", "@nobody_here", telegram_api), "token": "123:" + "x" * 35}
    config = write(tmp_path, [wrong, telegram("ghost", "@nobody_here", telegram_api)])
    result = await doctor(config)
    assert result.returncode == 1
    found = rows(result.stdout)
    assert found[("news", "bot token (getMe)")] == "FAIL"
    assert found[("ghost", "chat exists")] == "FAIL"
    assert "chat not found" in result.stdout.lower()
    assert "x" * 35 not in result.stdout + result.stderr
