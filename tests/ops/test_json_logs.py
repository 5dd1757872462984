"""`--log-format json`: one object per line, the delivery's ids as fields, secrets masked."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import yaml

from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_fixtures import CHANNEL_ID, TELEGRAM_TOKEN
from tests.integration.test_cli import cli

SECRET_HALF = TELEGRAM_TOKEN.split(":", 1)[1]


def _config(tmp_path: Path, api: FakeTelegramAPI) -> dict[str, str]:
    config = tmp_path / "news.yaml"
    channel = {
        "name": "tg-news",
        "platform": "telegram",
        "token": "${TELEGRAM_BOT_TOKEN}",
        "chat": "@newsroom",
        "api_base_url": api.base_url,
    }
    data = {
        "version": 1,
        "store": {"url": f"sqlite+aiosqlite:///{tmp_path / 'news.sqlite3'}"},
        "dispatch": {"backoff_base_seconds": 0.05, "backoff_max_seconds": 0.05},
        "channels": [channel],
    }
    config.write_text(yaml.safe_dump(data))
    return {"DISTRIBUTOR_CONFIG": str(config), "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN}


async def test_json_lines_carry_ids_and_no_secret(
    telegram_api: FakeTelegramAPI, tmp_path: Path
) -> None:
    env = _config(tmp_path, telegram_api)
    story = tmp_path / "story.txt"
    story.write_text("Harbour reopens\n\nThe harbour reopened on Monday. Ships are back.\n")
    queued = await asyncio.to_thread(cli, "queue", str(story), cwd=tmp_path, env=env)
    assert queued.returncode == 0, queued.stderr
    telegram_api.fail_next(chat_id=CHANNEL_ID, status=500)  # a retry, then the post

    stderr = ""
    for _ in range(2):  # the first run retries, the second posts (the backoff is 50 ms)
        result = await asyncio.to_thread(
            cli, "run", "--once", "-vv", "--log-format", "json", cwd=tmp_path, env=env
        )
        assert result.returncode == 0, result.stderr
        assert SECRET_HALF not in result.stdout
        stderr += result.stderr
    # Every line is one JSON object (tracebacks included, inside their event).
    events = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    assert events
    for event in events:
        assert {"time", "level", "logger", "message"} <= event.keys()
    retry = next(e for e in events if "will retry" in e["message"])
    sent = next(e for e in events if e["logger"] == "distributor.dispatch" and e is not retry
                and "send: article" in e["message"])  # fmt: skip
    for event in (retry, sent):
        assert event["channel"] == "tg-news"
        assert event["story_id"] == 1 and event["delivery_id"] == 1
        assert event["operation"] == "send"
    # httpx logs every Bot API URL at -vv: the token is masked there as in text logs.
    requests = [e for e in events if e["logger"] == "httpx"]
    assert requests and all("/bot***/" in e["message"] for e in requests)
    assert SECRET_HALF not in stderr
