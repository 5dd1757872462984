"""Platform name → what implements it, found through the ``distributor.channels`` entry points.

Registration is explicit (no directory scanning) and the same for every platform: the built-in
Telegram, Discord and email adapters declare their entry points in the project's metadata just
as a third-party package would, so the core never imports a platform. A platform module exposes
``SPEC``, a ``PlatformSpec`` naming everything the platform brings: its config model, its
payload builder and transport, and optionally its CLI commands, tables (an Alembic branch), web
routes, a cross-channel ``validate`` hook and a preview of a post. Heavy parts are named by
``"module:attribute"`` strings and imported only when used, so ``distributor --help`` or a dry
run never loads a platform's client library.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, TypeVar, cast

from distributor.config import AppConfig, ChannelConfig
from distributor.rendering import Renderer
from distributor.yamlsource import KeyPath

if TYPE_CHECKING:
    from distributor.adapter import AdapterContext, ChannelAdapter, PayloadBuilder
    from distributor.types import MessageRef, RenderedMessage

ENTRY_POINT_GROUP = "distributor.channels"


@dataclass(frozen=True, slots=True)
class Problem:
    """A configuration problem found by a platform's ``validate`` hook, at a key path."""

    path: KeyPath
    message: str


@dataclass(frozen=True, slots=True)
class PostPreview:
    """What a reader of the platform would see, for people (the editors' desk, ``preview``).

    ``text`` is the post as the platform shows it (markup applied, not source), ``length`` is
    counted the way the platform counts against ``limit``, and ``payload`` is the exact request
    body (what the outbox would write), so a preview can never differ from the post.
    """

    platform: str
    title: str
    text: str
    length: int
    limit: int
    payload: bytes
    media_type: str


Validator = Callable[[Sequence[tuple[int, ChannelConfig]], AppConfig], list[Problem]]
Previewer = Callable[[ChannelConfig, "RenderedMessage", "PayloadBuilder"], PostPreview]
PostUrl = Callable[[ChannelConfig, "MessageRef"], "str | None"]


def _no_problems(_channels: Sequence[tuple[int, ChannelConfig]], _app: AppConfig) -> list[Problem]:
    return []


def _no_link(_config: ChannelConfig, _ref: MessageRef) -> str | None:
    return None


@dataclass(frozen=True)
class PlatformSpec:
    """What a platform brings.

    Attributes:
        name: the YAML ``platform:`` value.
        config_model: the pydantic model of its channel entries.
        templates: the templates a channel renders with (``check-config`` renders each).
        builder: the pure payload builder for a channel.
        adapter: the live transport for a channel.
        commands: CLI command name → ``"module:attribute"`` of a click command, loaded lazily.
        command_help: CLI command name → the one line ``--help`` lists it with, so that the
            listing imports none of the platform's command code.
        models: a module declaring the platform's tables on ``distributor.models.Base``.
        migrations: a package holding the platform's Alembic versions, its own branch.
        web_routes: ``"module:function"``; the function takes a ``web.WebContext`` and returns
            Starlette routes, mounted by the one web service under ``web.base_url``.
        validate: rules across all the platform's channels, run by every config load.
        preview: what a post looks like on the platform, built from the real payload.
        background: ``"module:function"``; the function takes the ``AdapterContext``, the
            worker's id and the dry-run flag and returns a ``BackgroundWork`` (or None), whose
            ``run_due`` every ``distributor run`` worker calls on a short interval (email's
            queued confirmation emails).
        doctor: ``"module:function"`` of the platform's live checks for ``distributor
            doctor``: an async function taking a channel's config, the app config and
            ``doctor.DoctorOptions``, returning ``doctor.Finding``s; it must post nothing.
        post_url: the address of a post from its ``MessageRef`` (the desk's and the API's
            links), or None where the platform gives none (a private chat, an email).
        digest: ``"module:function"`` building a channel's digest post: it takes the
            channel's config, the ``Renderer`` and a ``types.DigestView`` and returns the
            ``RenderedMessage`` the channel's adapter sends, fitted to the platform.
    """

    name: str
    config_model: type[ChannelConfig]
    templates: Callable[[ChannelConfig], Sequence[str]]
    builder: Callable[[ChannelConfig, Renderer], PayloadBuilder]
    adapter: Callable[[ChannelConfig, PayloadBuilder, AdapterContext], ChannelAdapter]
    preview: Previewer
    commands: Mapping[str, str] = field(default_factory=dict)
    command_help: Mapping[str, str] = field(default_factory=dict)
    models: str | None = None
    migrations: str | None = None
    web_routes: str | None = None
    validate: Validator = _no_problems
    background: str | None = None
    doctor: str | None = None
    post_url: PostUrl = _no_link
    digest: str | None = None


C = TypeVar("C", bound=ChannelConfig)


def platform_spec(
    name: str,
    config_model: type[C],
    builder: Callable[[C, Renderer], PayloadBuilder] | str,
    adapter: str,
    templates: Callable[[C], Sequence[str]],
    preview: Callable[[C, RenderedMessage, PayloadBuilder], PostPreview] | str,
    **extras: Any,
) -> PlatformSpec:
    """A ``PlatformSpec`` from typed parts.

    ``adapter`` is ``"module:Class"``, imported only when a live channel of the platform is
    built, so a dry run never loads the platform's client library. The class is called with
    the channel's config, its payload builder and the ``AdapterContext``. ``builder`` and
    ``preview`` may be ``"module:attribute"`` too, so that loading the spec (``--help``, config
    validation) imports nothing but the config model. ``extras`` are the optional
    ``PlatformSpec`` fields (``commands``, ``models``, ``migrations``…); a ``post_url`` among
    them is given the channel's config already narrowed to ``config_model``.
    """

    def narrow(config: ChannelConfig) -> C:
        if not isinstance(config, config_model):
            raise TypeError(f"channel {config.name!r} is not a {name} channel")
        return config

    def build_adapter(
        config: ChannelConfig, built: PayloadBuilder, context: AdapterContext
    ) -> ChannelAdapter:
        return cast("ChannelAdapter", load_attribute(adapter)(narrow(config), built, context))

    def build_payloads(config: ChannelConfig, renderer: Renderer) -> PayloadBuilder:
        factory = load_attribute(builder) if isinstance(builder, str) else builder
        return cast("PayloadBuilder", factory(narrow(config), renderer))

    def show(config: ChannelConfig, message: RenderedMessage, built: PayloadBuilder) -> PostPreview:
        shower = load_attribute(preview) if isinstance(preview, str) else preview
        return cast(PostPreview, shower(narrow(config), message, built))

    link = extras.pop("post_url", None)
    if link is not None:
        extras["post_url"] = lambda config, ref: link(narrow(config), ref)

    return PlatformSpec(
        name=name,
        config_model=config_model,
        templates=lambda config: templates(narrow(config)),
        builder=build_payloads,
        adapter=build_adapter,
        preview=show,
        **extras,
    )


def load_attribute(target: str) -> Any:
    """Import ``"module:attribute"`` and return the attribute."""
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


@cache
def _plugins() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def names() -> list[str]:
    return sorted(_plugins())


@cache
def get(name: str) -> PlatformSpec:
    target = _plugins().get(name)
    if target is None:
        known = ", ".join(names()) or "none installed"
        raise LookupError(f"No channel platform named {name!r} (known: {known})")
    spec = load_attribute(target)
    if not isinstance(spec, PlatformSpec):
        raise TypeError(f"{target} is not a PlatformSpec")
    if spec.name != name:
        raise LookupError(f"{target} declares platform {spec.name!r}, not {name!r}")
    return spec


def post_links(config: ChannelConfig, refs: Sequence[Mapping[str, Any]]) -> list[str]:
    """The addresses of a delivery's posts (stored refs) on the channel's platform; none where
    the platform gives none (a private chat, an email, a dry run)."""
    from distributor.types import MessageRef

    links = []
    for ref in refs:
        try:
            link = get(config.platform).post_url(config, MessageRef.from_json(ref))
        except (KeyError, TypeError, ValueError, LookupError):
            continue  # a ref from an older version or another platform: no link, no crash
        if link:
            links.append(link)
    return links


def installed() -> list[PlatformSpec]:
    """Every installed platform's spec (for the CLI, the migrations and the web service)."""
    return [get(name) for name in names()]
