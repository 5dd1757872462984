"""`distributor doctor` against the fakes, a real SMTP server and a local DNS server."""

from __future__ import annotations

import asyncio
import base64
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.email.world import email_config
from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.discord_fixtures import (
    DISCORD_BOT_TOKEN,
    DISCORD_CHANNEL_ID,
    DISCORD_WEBHOOK_ID,
    DISCORD_WEBHOOK_TOKEN,
    DISCORD_WEBHOOK_URL,
)
from tests.fakes.smtp import FakeSMTP
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_fixtures import CHANNEL_ID, GROUP_ID, TELEGRAM_TOKEN
from tests.integration.test_cli import cli
from tests.ops.dns_server import Zone, dns_server

SECRET_HALF = TELEGRAM_TOKEN.split(":", 1)[1]


def write(tmp_path: Path, channels: list[dict[str, Any]], **extra: Any) -> Path:
    path = tmp_path / "news.yaml"
    data = {
        "version": 1,
        "store": {"url": f"sqlite+aiosqlite:///{tmp_path / 'news.sqlite3'}"},
        "channels": channels,
    }
    data.update(extra)
    path.write_text(yaml.safe_dump(data))
    return path


async def doctor(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN, "DISTRIBUTOR_WEB_SECRET": "s" * 40}
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


@pytest.fixture(scope="module")
def dkim_keys(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, str]]:
    """Two RSA keys and their DKIM TXT records."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a DKIM test key")
    folder = tmp_path_factory.mktemp("dkim")
    keys = []
    for n in (1, 2):
        key = folder / f"dkim{n}.pem"
        subprocess.run(["openssl", "genrsa", "-traditional", "-out", str(key), "2048"],
                       check=True, capture_output=True)  # fmt: skip
        public = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
                                check=True, capture_output=True).stdout  # fmt: skip
        keys.append((key, "v=DKIM1; k=rsa; p=" + base64.b64encode(public).decode()))
    return keys


def email_doctor_config(tmp_path: Path, smtp: FakeSMTP, key: Path, password: str) -> Path:
    data = email_config(
        f"sqlite+aiosqlite:///{tmp_path / 'news.sqlite3'}",
        tmp_path,
        smtp,
        dkim={"selector": "sel2026", "private_key_file": str(key)},
    )
    data["channels"][0]["smtp"].update(username="news", password=password)
    path = tmp_path / "news.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_email_smtp_login_spf_dkim_and_dmarc(
    tmp_path: Path, dkim_keys: list[tuple[Path, str]]
) -> None:
    (key, record), (_, other_record) = dkim_keys
    good_zone = Zone({
        "news.example.org": ["v=spf1 ip4:127.0.0.1 -all", "google-site-verification=abc"],
        "_dmarc.news.example.org": ["v=DMARC1; p=quarantine; rua=mailto:d@news.example.org"],
        "sel2026._domainkey.news.example.org": [record],
    })  # fmt: skip
    with FakeSMTP(username="news", password="right-password") as smtp:
        config = email_doctor_config(tmp_path, smtp, key, "right-password")
        with dns_server(good_zone) as port:
            good = await doctor(config, "--nameserver", f"127.0.0.1:{port}")
        assert good.returncode == 0, good.stdout + good.stderr
        found = rows(good.stdout)
        for check in ("smtp", "SPF", "DMARC", "DKIM"):
            assert found[("newsletter", check)] == "ok", check
        assert "AUTH as news" in good.stdout and "policy quarantine" in good.stdout
        assert smtp.messages == []  # nothing was sent

        bad_zone = Zone({
            "news.example.org": ["v=spf1 -all", "v=spf1 a -all"],  # two SPF records
            "sel2026._domainkey.news.example.org": [other_record],  # not our key
        })  # fmt: skip
        config = email_doctor_config(tmp_path, smtp, key, "wrong-password")
        with dns_server(bad_zone) as port:
            bad = await doctor(config, "--nameserver", f"127.0.0.1:{port}")
    assert bad.returncode == 1
    found = rows(bad.stdout)
    for check in ("smtp", "SPF", "DMARC", "DKIM"):
        assert found[("newsletter", check)] == "FAIL", check
    assert "refused the login" in bad.stdout
    assert "2 SPF records" in bad.stdout
    assert "no DMARC record" in bad.stdout
    assert "not the configured key" in bad.stdout
    assert "wrong-password" not in bad.stdout + bad.stderr


async def test_discord_webhook_and_bot(discord_api: FakeDiscordAPI, tmp_path: Path) -> None:
    hook = {"name": "dc-hook", "platform": "discord", "webhook_url": DISCORD_WEBHOOK_URL,
            "api_base_url": discord_api.api_base}  # fmt: skip
    bot = {"name": "dc-bot", "platform": "discord", "mode": "bot", "token": DISCORD_BOT_TOKEN,
           "channel_id": DISCORD_CHANNEL_ID, "api_base_url": discord_api.api_base}  # fmt: skip
    config = write(tmp_path, [hook, bot])
    good = await doctor(config)
    assert good.returncode == 0, good.stdout + good.stderr
    found = rows(good.stdout)
    assert found[("dc-hook", "webhook exists")] == "ok"
    assert found[("dc-bot", "bot token")] == "ok" and found[("dc-bot", "bot sees channel")] == "ok"

    discord_api.delete_webhook(DISCORD_WEBHOOK_ID)
    discord_api.set_permissions(DISCORD_CHANNEL_ID, bot_can_view=False)
    bad = await doctor(config)
    assert bad.returncode == 1
    found = rows(bad.stdout)
    assert found[("dc-hook", "webhook exists")] == "FAIL"
    assert found[("dc-bot", "bot sees channel")] == "FAIL"
    assert "Unknown Webhook" in bad.stdout and "Missing Access" in bad.stdout
    assert DISCORD_WEBHOOK_TOKEN not in bad.stdout + bad.stderr
    assert DISCORD_BOT_TOKEN not in bad.stdout + bad.stderr


async def test_store_and_redis(tmp_path: Path, redis_url: str) -> None:
    config = write(tmp_path, [], redis={"url": redis_url})
    good = await doctor(config)
    assert good.returncode == 0, good.stdout + good.stderr
    assert rows(good.stdout)[("redis", "ping")] == "ok"

    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    broken = write(tmp_path, [], redis={"url": f"redis://127.0.0.1:{port}/0"},
                   store={"url": f"postgresql+asyncpg://nobody@127.0.0.1:{port}/none"})  # fmt: skip
    bad = await doctor(broken)
    assert bad.returncode == 1
    found = rows(bad.stdout)
    assert found[("redis", "ping")] == "FAIL" and found[("store", "database")] == "FAIL"
    assert "Traceback" not in bad.stderr
