"""Discord: discord.py over REST only, as a webhook or as a bot (no gateway needed to post)."""

from __future__ import annotations

from collections.abc import Sequence

from distributor.config import AppConfig, ChannelConfig
from distributor.registry import Problem, platform_spec
from distributor_channels.discord.config import DEFAULT_TEMPLATE, DiscordChannelConfig
from distributor_channels.discord.links import post_url


def one_api_root(channels: Sequence[tuple[int, ChannelConfig]], _app: AppConfig) -> list[Problem]:
    """discord.py reads its API root from one class attribute: every live channel shares it."""
    live = [
        (index, channel)
        for index, channel in channels
        if isinstance(channel, DiscordChannelConfig) and channel.enabled and not channel.dry_run
    ]
    roots = {channel.api_base_url for _, channel in live}
    if len(roots) <= 1:
        return []
    shown = ", ".join(sorted(repr(r) if r else "(none)" for r in roots))
    first = live[0][1].api_base_url
    return [
        Problem(
            ("channels", index, "api_base_url"),
            f"Discord channels disagree on api_base_url ({shown}); discord.py has one API root "
            "per process, so set the same value on every live Discord channel",
        )
        for index, channel in live
        if channel.api_base_url != first
    ]


SPEC = platform_spec(
    "discord",
    DiscordChannelConfig,
    "distributor_channels.discord.payload:DiscordPayloads",
    adapter="distributor_channels.discord.adapter:DiscordAdapter",
    templates=lambda config: [config.template or DEFAULT_TEMPLATE],
    preview="distributor_channels.discord.preview:preview",
    post_url=post_url,
    validate=one_api_root,
    doctor="distributor_channels.discord.doctor:check",
    digest="distributor_channels.discord.digest:render_digest",
)
