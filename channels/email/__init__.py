"""Email: newsletters over SMTP (aiosmtplib) to a subscriber list, one ledger row per reader."""

from __future__ import annotations

from collections.abc import Sequence

from distributor.registry import platform_spec
from distributor_channels.email.config import (
    CONFIRM_HTML_TEMPLATE,
    CONFIRM_TEXT_TEMPLATE,
    DEFAULT_HTML_TEMPLATE,
    DEFAULT_TEXT_TEMPLATE,
    WEB_TEMPLATES,
    EmailChannelConfig,
)
from distributor_channels.email.payload import EmailPayloads
from distributor_channels.email.preview import preview


def _templates(config: EmailChannelConfig) -> Sequence[str]:
    # The confirmation email and the web pages too: check-config catches a broken one.
    return [
        config.template or DEFAULT_HTML_TEMPLATE,
        config.text_template or DEFAULT_TEXT_TEMPLATE,
        CONFIRM_HTML_TEMPLATE,
        CONFIRM_TEXT_TEMPLATE,
        *WEB_TEMPLATES,
    ]


SPEC = platform_spec(
    "email",
    EmailChannelConfig,
    EmailPayloads,
    adapter="distributor_channels.email.adapter:EmailAdapter",
    templates=_templates,
    preview=preview,
    commands={"subscribers": "distributor_channels.email.cli:subscribers"},
    models="distributor_channels.email.models",
    migrations="distributor_channels.email.migrations",
    web_routes="distributor_channels.email.web:routes",
)
