"""Setups that would expose readers are refused: weak web secrets, clear-text SMTP logins."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from distributor import errors
from distributor.configload import load_config
from distributor.resources import config_dir
from distributor.store import Store
from distributor_channels.email import smtp
from tests.conftest import FakeClock
from tests.email.world import World, email_config
from tests.fakes.smtp import FakeSMTP
from tests.helpers import write_config

REPO = Path(__file__).resolve().parents[2]
WEBHOOK = "https://discord.com/api/webhooks/123456789012345678/" + "t" * 68


def config(tmp_path: Path, **channel: Any) -> dict[str, Any]:
    """A config with one email channel; loading it opens no store."""
    return email_config(f"sqlite+aiosqlite:///{tmp_path}/unused.sqlite3", tmp_path, None, **channel)


def issues(tmp_path: Path, data: dict[str, Any]) -> list[str]:
    with pytest.raises(errors.ConfigError) as caught:
        write_config(tmp_path, data)
    return caught.value.issues


def test_a_short_web_secret_is_refused_at_load_naming_the_key(tmp_path: Path) -> None:
    data = config(tmp_path, dry_run=True)
    data["web"]["secret"] = "news2026"
    (problem,) = issues(tmp_path, data)
    assert re.search(r"config\.yaml:\d+: web\.secret: must be at least 32 characters", problem)
    assert "news2026" not in problem

    data["web"]["secret"] = "s" * 32
    data["web"]["previous_secrets"] = ["x" * 40, "news2026"]
    (problem,) = issues(tmp_path, data)
    assert "web.previous_secrets[1]: must be at least 32 characters" in problem


def test_the_development_default_still_runs_the_zero_config_demo(tmp_path: Path) -> None:
    data = config(tmp_path, dry_run=True)
    del data["web"]["secret"]
    assert write_config(tmp_path, data).app.channels[0].platform == "email"


def test_without_an_email_channel_the_secret_signs_nothing_and_is_not_checked(
    tmp_path: Path,
) -> None:
    data = config(tmp_path, dry_run=True)
    data["web"]["secret"] = "short"
    data["channels"] = [{"name": "t", "platform": "telegram", "dry_run": True, "chat": "@abcd"}]
    assert write_config(tmp_path, data).app.web.secret.get_secret_value() == "short"


def test_make_check_configs_passes_a_secret_long_enough() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    match = re.search(r"DISTRIBUTOR_WEB_SECRET=(\S+)", makefile)
    assert match is not None and len(match[1]) >= 32
    # The other variables the Makefile sets for the example configs, as it sets them.
    recipe = makefile[makefile.index("check-configs:") :]
    env = dict(re.findall(r"\b([A-Z][A-Z0-9_]+)=(\S+)", recipe.split("\n\n")[0]))
    env["DISCORD_WEBHOOK_URL"] = WEBHOOK  # the Makefile builds its own with the shell
    for path in sorted(config_dir().glob("*.yaml")):
        load_config(path, environ=env)


@pytest.mark.parametrize("host", ["smtp.example.org", "192.0.2.10", "2001:db8::1"])
def test_a_password_over_plain_smtp_to_another_host_is_refused(tmp_path: Path, host: str) -> None:
    server = {"host": host, "security": "none", "username": "news", "password": "pw"}
    (problem,) = issues(tmp_path, config(tmp_path, smtp=server))
    assert "channels[0].smtp" in problem and "clear text" in problem and "pw" not in problem


@pytest.mark.parametrize(
    ("host", "security"),
    [("127.0.0.1", "none"), ("::1", "none"), ("localhost", "none"), ("smtp.example.org", "tls")],
)
def test_a_password_over_tls_or_to_this_machine_is_accepted(
    tmp_path: Path, host: str, security: str
) -> None:
    server = {"host": host, "security": security, "username": "news", "password": "pw"}
    write_config(tmp_path, config(tmp_path, smtp=server))


async def test_a_server_offering_no_auth_while_credentials_are_set_breaks_the_channel(
    store: Store,
    store_url: str,
    smtp_server: FakeSMTP,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    # smtp_server offers no AUTH at all (no authenticator).
    server = {
        "host": smtp_server.host,
        "port": smtp_server.port,
        "security": "none",
        "username": "news",
        "password": "pw",
    }
    async with World.open(store, store_url, smtp_server, clock, tmp_path, smtp=server) as world:
        await world.subscribe("a@example.org")
        message, context = await world.story()
        with pytest.raises(errors.ChannelBroken, match="offers no AUTH"):
            await world.adapter().send(message, context)
        with pytest.raises(errors.ChannelBroken, match="offers no AUTH"):
            await smtp.connect(world.channel)  # what confirmation emails go through too
    assert smtp_server.messages == []
