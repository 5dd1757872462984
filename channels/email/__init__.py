"""Email: newsletters over SMTP (aiosmtplib) to a subscriber list, one ledger row per reader."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from channels.email.config import (
    CONFIRM_HTML_TEMPLATE,
    CONFIRM_TEXT_TEMPLATE,
    DEFAULT_HTML_TEMPLATE,
    DEFAULT_TEXT_TEMPLATE,
    WEB_TEMPLATES,
    EmailChannelConfig,
)
from channels.email.payload import EmailPayloads
from distributor.config import ChannelConfig
from distributor.registry import PlatformSpec
from distributor.rendering import Renderer

if TYPE_CHECKING:
    from channels.base import AdapterContext, ChannelAdapter, PayloadBuilder


def _config(config: ChannelConfig) -> EmailChannelConfig:
    if not isinstance(config, EmailChannelConfig):
        raise TypeError(f"channel {config.name!r} is not an email channel")
    return config


def _templates(config: ChannelConfig) -> Sequence[str]:
    email = _config(config)
    return [
        email.template or DEFAULT_HTML_TEMPLATE,
        email.text_template or DEFAULT_TEXT_TEMPLATE,
        CONFIRM_HTML_TEMPLATE,
        CONFIRM_TEXT_TEMPLATE,
        *WEB_TEMPLATES,
    ]


def _builder(config: ChannelConfig, renderer: Renderer) -> PayloadBuilder:
    return EmailPayloads(_config(config), renderer)


def _adapter(
    config: ChannelConfig, builder: PayloadBuilder, context: AdapterContext
) -> ChannelAdapter:
    from channels.email.adapter import EmailAdapter

    assert isinstance(builder, EmailPayloads)
    return EmailAdapter(_config(config), builder, context)


SPEC = PlatformSpec(
    name="email",
    config_model=EmailChannelConfig,
    templates=_templates,
    builder=_builder,
    adapter=_adapter,
)
