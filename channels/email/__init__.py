"""Email: newsletters over SMTP (aiosmtplib) to a subscriber list, one ledger row per reader."""

from __future__ import annotations

from collections.abc import Sequence

from distributor.config import DEVELOPMENT_WEB_SECRET, AppConfig, ChannelConfig
from distributor.registry import Problem, platform_spec
from distributor_channels.email.config import (
    CONFIRM_HTML_TEMPLATE,
    CONFIRM_TEXT_TEMPLATE,
    DEFAULT_HTML_TEMPLATE,
    DEFAULT_TEXT_TEMPLATE,
    DIGEST_HTML_TEMPLATE,
    DIGEST_TEXT_TEMPLATE,
    WEB_TEMPLATES,
    WELCOME_HTML_TEMPLATE,
    WELCOME_TEXT_TEMPLATE,
    EmailChannelConfig,
)
from distributor_channels.email.tokens import MIN_SECRET_CHARS


def _templates(config: EmailChannelConfig) -> Sequence[str]:
    # The confirmation and welcome emails and the web pages too: check-config catches a
    # broken one.
    welcome = [WELCOME_HTML_TEMPLATE, WELCOME_TEXT_TEMPLATE] if config.welcome_email else []
    digest = [DIGEST_HTML_TEMPLATE, DIGEST_TEXT_TEMPLATE] if config.digest is not None else []
    return [
        config.template or DEFAULT_HTML_TEMPLATE,
        config.text_template or DEFAULT_TEXT_TEMPLATE,
        CONFIRM_HTML_TEMPLATE,
        CONFIRM_TEXT_TEMPLATE,
        *welcome,
        *digest,
        *WEB_TEMPLATES,
    ]


def strong_web_secrets(
    _channels: Sequence[tuple[int, ChannelConfig]], app: AppConfig
) -> list[Problem]:
    """``web.secret`` signs readers' confirm and unsubscribe links: a short one is recovered
    offline from a single link (``news2026`` took 126 guesses), then anybody can unsubscribe or
    confirm anybody. The published development default passes here, for the zero-config demo;
    real mail refuses it when it is sent."""
    advice = (
        f"must be at least {MIN_SECRET_CHARS} characters: it signs readers' confirm and "
        "unsubscribe links, and a short one is guessed offline from a single link (generate "
        "one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
    )
    problems = []
    secret = app.web.secret.get_secret_value()
    if secret != DEVELOPMENT_WEB_SECRET and len(secret) < MIN_SECRET_CHARS:
        problems.append(Problem(("web", "secret"), advice))
    for index, old in enumerate(app.web.previous_secrets):
        value = old.get_secret_value()
        if value == DEVELOPMENT_WEB_SECRET or len(value) < MIN_SECRET_CHARS:
            # A link it signed could be forged as long as it is accepted: drop it instead.
            problems.append(
                Problem(
                    ("web", "previous_secrets", index),
                    f"{advice}; a weak old secret is not worth keeping: links signed with it "
                    "can be forged",
                )
            )
    return problems


SPEC = platform_spec(
    "email",
    EmailChannelConfig,
    "distributor_channels.email.payload:EmailPayloads",
    adapter="distributor_channels.email.adapter:EmailAdapter",
    templates=_templates,
    preview="distributor_channels.email.preview:preview",
    digest="distributor_channels.email.digest:render_digest",
    commands={"subscribers": "distributor_channels.email.cli:subscribers"},
    command_help={"subscribers": "Email subscribers: add, import, list, remove, export."},
    models="distributor_channels.email.models",
    migrations="distributor_channels.email.migrations",
    web_routes="distributor_channels.email.web:routes",
    validate=strong_web_secrets,
    background="distributor_channels.email.confirmqueue:background",
    doctor="distributor_channels.email.doctor:check",
)
