"""Turn the configured channels into ready adapters: the real transport, or the outbox."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from distributor import registry
from distributor.adapter import AdapterContext, BackgroundWork, ChannelAdapter
from distributor.config import AppConfig, ChannelConfig
from distributor.outbox import OutboxAdapter


def outbox_dir(app: AppConfig, base: Path | None = None) -> Path:
    path = Path(app.outbox_dir)
    return path if path.is_absolute() or base is None else base / path


def build_adapter(
    channel: ChannelConfig, context: AdapterContext, *, dry_run: bool = False
) -> ChannelAdapter:
    spec = registry.get(channel.platform)
    builder = spec.builder(channel, context.renderer)
    if dry_run or channel.dry_run:
        return OutboxAdapter(channel, builder, context.outbox_dir / channel.name, context.clock)
    return spec.adapter(channel, builder, context)


def build_adapters(
    app: AppConfig, context: AdapterContext, *, dry_run: bool = False
) -> dict[str, ChannelAdapter]:
    """One adapter per enabled channel (the alerts channel too, even if it takes no stories)."""
    wanted = [c for c in app.channels if c.enabled or c.name == app.alerts.channel]
    return {c.name: build_adapter(c, context, dry_run=dry_run) for c in wanted}


def build_background(
    app: AppConfig, context: AdapterContext, owner: str, *, dry_run: bool = False
) -> list[BackgroundWork]:
    """The background work of every platform that has a channel in this configuration."""
    configured = {channel.platform for channel in app.channels}
    works: list[BackgroundWork] = []
    for spec in registry.installed():
        if spec.background and spec.name in configured:
            factory = registry.load_attribute(spec.background)
            work = factory(context, owner, dry_run)
            if work is not None:
                works.append(work)
    return works


async def close_all(adapters: Mapping[str, ChannelAdapter]) -> None:
    for adapter in adapters.values():
        await adapter.aclose()
