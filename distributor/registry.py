"""Platform name → what implements it: built-ins plus the ``distributor.channels`` entry points.

Registration is explicit (no directory scanning). A platform module exposes ``SPEC``, a
``PlatformSpec``; built-ins are imported lazily so a Telegram-only newsroom never loads the
Discord client.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, TypeVar, cast

from distributor.config import ChannelConfig
from distributor.rendering import Renderer

if TYPE_CHECKING:
    from channels.base import AdapterContext, ChannelAdapter, PayloadBuilder

ENTRY_POINT_GROUP = "distributor.channels"

BUILTINS: dict[str, str] = {
    "telegram": "channels.telegram:SPEC",
    "discord": "channels.discord:SPEC",
    "email": "channels.email:SPEC",
}


@dataclass(frozen=True)
class PlatformSpec:
    """What a platform brings: its config keys, its payload builder, its transport."""

    name: str
    config_model: type[ChannelConfig]
    templates: Callable[[ChannelConfig], Sequence[str]]
    builder: Callable[[ChannelConfig, Renderer], PayloadBuilder]
    adapter: Callable[[ChannelConfig, PayloadBuilder, AdapterContext], ChannelAdapter]


C = TypeVar("C", bound=ChannelConfig)


def platform_spec(
    name: str,
    config_model: type[C],
    builder: Callable[[C, Renderer], PayloadBuilder],
    adapter: str,
    templates: Callable[[C], Sequence[str]],
) -> PlatformSpec:
    """A ``PlatformSpec`` from typed parts.

    ``adapter`` is ``"module:Class"``, imported only when a live channel of the platform is
    built, so a dry run never loads the platform's client library. The class is called with
    the channel's config, its payload builder and the ``AdapterContext``.
    """

    def narrow(config: ChannelConfig) -> C:
        if not isinstance(config, config_model):
            raise TypeError(f"channel {config.name!r} is not a {name} channel")
        return config

    def build_adapter(
        config: ChannelConfig, built: PayloadBuilder, context: AdapterContext
    ) -> ChannelAdapter:
        module, _, attribute = adapter.partition(":")
        factory = getattr(importlib.import_module(module), attribute)
        return cast("ChannelAdapter", factory(narrow(config), built, context))

    return PlatformSpec(
        name=name,
        config_model=config_model,
        templates=lambda config: templates(narrow(config)),
        builder=lambda config, renderer: builder(narrow(config), renderer),
        adapter=build_adapter,
    )


def _load(target: str) -> PlatformSpec:
    module_name, _, attribute = target.partition(":")
    spec = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(spec, PlatformSpec):
        raise TypeError(f"{target} is not a PlatformSpec")
    return spec


@cache
def _plugins() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def names() -> list[str]:
    return sorted({*BUILTINS, *_plugins()})


@cache
def get(name: str) -> PlatformSpec:
    target = BUILTINS.get(name) or _plugins().get(name)
    if target is None:
        raise LookupError(f"No channel platform named {name!r} (known: {', '.join(names())})")
    spec = _load(target)
    if spec.name != name:
        raise LookupError(f"{target} declares platform {spec.name!r}, not {name!r}")
    return spec
