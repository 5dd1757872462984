"""``distributor doctor`` for Discord: the webhook exists, or the bot's token works and it sees
its channel. Read-only requests (GET); nothing is posted.

Whether a bot may send in a channel depends on the guild's roles and the channel's overwrites;
the API tells a bot that only by refusing a post, so the check stops at "the bot sees the
channel" and a missing send permission still shows on the first post (which pauses the channel).
"""

from __future__ import annotations

from typing import Any

import httpx

from distributor.config import AppConfig, ChannelConfig
from distributor.doctor import DoctorOptions, Finding
from distributor_channels.discord.config import WEBHOOK_URL, DiscordChannelConfig

API_ROOT = "https://discord.com/api/v10"


def _why(response: httpx.Response) -> str:
    try:
        body: Any = response.json()
        message = body.get("message", "") if isinstance(body, dict) else ""
    except ValueError:
        message = ""
    return f"{message or response.reason_phrase} ({response.status_code})"


async def check(config: ChannelConfig, app: AppConfig, options: DoctorOptions) -> list[Finding]:
    assert isinstance(config, DiscordChannelConfig)
    root = (config.api_base_url or API_ROOT).rstrip("/")
    async with httpx.AsyncClient(timeout=options.timeout_seconds) as http:
        if config.mode == "webhook":
            return [await _webhook(config, root, http)]
        return await _bot(config, root, http)


async def _webhook(config: DiscordChannelConfig, root: str, http: httpx.AsyncClient) -> Finding:
    found = WEBHOOK_URL.match(config.webhook_url.get_secret_value()) if config.webhook_url else None
    if found is None:
        return Finding(config.name, "webhook exists", False, "no usable webhook_url")
    # The id and token of the URL, asked at the configured API root (a proxy, or the fake).
    response = await http.get(f"{root}/webhooks/{found.group(1)}/{found.group(2)}")
    if response.status_code != 200:
        return Finding(config.name, "webhook exists", False, f"Discord says {_why(response)}")
    hook = response.json()
    detail = f"{hook.get('name') or 'webhook'} in channel {hook.get('channel_id')}"
    return Finding(config.name, "webhook exists", True, detail)


async def _bot(config: DiscordChannelConfig, root: str, http: httpx.AsyncClient) -> list[Finding]:
    assert config.token is not None
    headers = {"Authorization": f"Bot {config.token.get_secret_value()}"}
    me = await http.get(f"{root}/users/@me", headers=headers)
    if me.status_code != 200:
        return [Finding(config.name, "bot token", False, f"Discord says {_why(me)}")]
    findings = [Finding(config.name, "bot token", True, f"{me.json().get('username')}")]
    channel = await http.get(f"{root}/channels/{config.channel_id}", headers=headers)
    if channel.status_code != 200:
        findings.append(
            Finding(config.name, "bot sees channel", False, f"Discord says {_why(channel)}")
        )
    else:
        name = channel.json().get("name") or config.channel_id
        findings.append(Finding(config.name, "bot sees channel", True, f"#{name}"))
    return findings
