"""``distributor digest preview`` and ``digest send --now`` as an admin runs them."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from distributor.resources import samples_dir
from tests.integration.test_cli import cli


def test_preview_then_send_now_writes_one_digest_and_starts_a_new_window(tmp_path: Path) -> None:
    digest = {"schedule": "0 7 * * *", "title": "Morning briefing", "mode": "digest"}
    data = {
        "version": 1,
        "store": {"url": f"sqlite+aiosqlite:///{tmp_path / 'news.sqlite3'}"},
        "outbox_dir": str(tmp_path / "outbox"),
        "channels": [
            {"name": "tg", "platform": "telegram", "dry_run": True, "chat": "@newsroom",
             "digest": digest},
            {"name": "dc", "platform": "discord", "dry_run": True, "digest": digest},
        ],
    }  # fmt: skip
    config = tmp_path / "news.yaml"
    config.write_text(yaml.safe_dump(data))
    env = {"DISTRIBUTOR_CONFIG": str(config)}
    sample = samples_dir() / "tidal-station.en.md"
    assert cli("queue", str(sample), cwd=tmp_path, env=env).returncode == 0
    assert cli("run", "--once", cwd=tmp_path, env=env).returncode == 0
    outbox = tmp_path / "outbox"
    assert [p for p in outbox.rglob("*") if p.is_file()] == []  # digest-only: no post per story

    preview = cli("digest", "preview", "tg", cwd=tmp_path, env=env)
    assert preview.returncode == 0, preview.stderr
    assert "1 story listed" in preview.stdout and "Morning briefing" in preview.stdout

    sent = cli("digest", "send", "tg", "--now", cwd=tmp_path, env=env)
    assert sent.returncode == 0, sent.stderr
    assert "tg: digest sent, 1 stories" in sent.stdout
    [written] = (tmp_path / "outbox" / "tg").iterdir()
    request = json.loads(written.read_text())
    assert request["method"] == "sendMessage"
    assert request["params"]["text"].startswith("<b>Morning briefing</b>")

    after = cli("digest", "preview", "tg", cwd=tmp_path, env=env)
    assert "0 stories listed" in after.stdout and "nothing would be posted" in after.stdout
    sent_dc = cli("digest", "send", "dc", "--now", cwd=tmp_path, env=env)
    assert "dc: digest sent, 1 stories" in sent_dc.stdout

    status = json.loads(cli("status", "--json", cwd=tmp_path, env=env).stdout)
    shown = {d["channel"]: [x["status"] for x in d["digests"]] for d in status["digests"]}
    assert shown == {"tg": ["sent", "empty"], "dc": ["sent", "empty"]}

    unknown = cli("digest", "preview", "pigeon", cwd=tmp_path, env=env)
    assert unknown.returncode == 2 and "no channel named 'pigeon'" in unknown.stderr
