"""`distributor run --once` tells by its exit code whether everything went out."""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml

from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_fixtures import GROUP_ID, TELEGRAM_TOKEN
from tests.helpers import outbox_config
from tests.integration.test_cli import cli


def _story(tmp_path: Path, title: str) -> Path:
    path = tmp_path / f"{title.lower().replace(' ', '-')}.txt"
    path.write_text(f"{title}\n\nFirst sentence of the story. Second sentence.\n")
    return path


def test_run_once_exits_1_when_a_delivery_failed_and_0_when_all_went_out(tmp_path: Path) -> None:
    # A template that breaks on one story: that delivery fails for good, the others go out.
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "tg.html.j2").write_text(
        '{% include "telegram/article.html.j2" %}{% if "Boom" in title %}{{ 1 / 0 }}{% endif %}'
    )
    data = outbox_config(f"sqlite+aiosqlite:///{tmp_path / 'news.sqlite3'}", tmp_path)
    data["channels"] = [{**data["channels"][0], "template": "tg.html.j2"}]
    data.pop("promo")
    config = tmp_path / "news.yaml"
    config.write_text(yaml.safe_dump(data))
    env = {"DISTRIBUTOR_CONFIG": str(config)}

    assert cli("queue", str(_story(tmp_path, "Quiet day")), cwd=tmp_path, env=env).returncode == 0
    fine = cli("run", "--once", cwd=tmp_path, env=env)
    assert fine.returncode == 0, fine.stderr
    assert "1 posted/edited/deleted, 0 to retry, 0 failed" in fine.stdout

    assert cli("queue", str(_story(tmp_path, "Boom town")), cwd=tmp_path, env=env).returncode == 0
    failed = cli("run", "--once", cwd=tmp_path, env=env)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "0 posted/edited/deleted, 0 to retry, 1 failed" in failed.stdout

    # Nothing left to do: the earlier failure is history, not this run's news.
    assert cli("run", "--once", cwd=tmp_path, env=env).returncode == 0


async def test_run_once_exits_1_when_a_channel_got_paused(
    telegram_api: FakeTelegramAPI, tmp_path: Path
) -> None:
    telegram_api.kick(GROUP_ID)
    config = tmp_path / "news.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "store": {"url": f"sqlite+aiosqlite:///{tmp_path / 'news.sqlite3'}"},
                "channels": [
                    {
                        "name": "tg-group",
                        "platform": "telegram",
                        "token": "${TELEGRAM_BOT_TOKEN}",
                        "chat": str(GROUP_ID),
                        "api_base_url": telegram_api.base_url,
                    }
                ],
            }
        )
    )
    env = {"DISTRIBUTOR_CONFIG": str(config), "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN}
    story = _story(tmp_path, "Harbour news")
    queued = await asyncio.to_thread(cli, "queue", str(story), cwd=tmp_path, env=env)
    assert queued.returncode == 0, queued.stderr

    result = await asyncio.to_thread(cli, "run", "--once", cwd=tmp_path, env=env)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 paused a channel" in result.stdout
    assert TELEGRAM_TOKEN.split(":")[1] not in result.stdout + result.stderr
