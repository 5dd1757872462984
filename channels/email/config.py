"""The keys of an email channel in the admin's YAML: the list, the sender, the SMTP server."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from distributor.config import NAME_PATTERN, ChannelConfig, Strict
from distributor_channels.email import addresses

DEFAULT_HTML_TEMPLATE = "email/article.html.j2"
DEFAULT_TEXT_TEMPLATE = "email/article.txt.j2"
CONFIRM_HTML_TEMPLATE = "email/confirm.html.j2"
CONFIRM_TEXT_TEMPLATE = "email/confirm.txt.j2"
# The readers' web pages (``distributor web``); an admin's folder may override any of them.
WEB_TEMPLATES = (
    "email/page.html.j2",
    "email/subscribe.html.j2",
    "email/confirm_page.html.j2",
    "email/unsubscribe.html.j2",
    "email/done.html.j2",
)

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_SELECTOR = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,62})$")


class SmtpConfig(Strict):
    """The submission server: ``starttls`` on 587, ``tls`` on 465, ``none`` only on localhost."""

    host: str = "127.0.0.1"
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)
    validate_certs: bool = True

    def describe(self) -> str:
        """``host:port (security)``: safe to print, never the credentials."""
        return f"{self.host}:{self.port} ({self.security})"


class DkimConfig(Strict):
    """DKIM signing (dkimpy); the public key is in DNS at ``<selector>._domainkey.<domain>``."""

    selector: str
    domain: str | None = Field(default=None, description="signing domain; From's domain if unset")
    private_key_file: str = Field(description="PEM RSA key, 2048 bits recommended")

    @field_validator("selector")
    @classmethod
    def _selector(cls, value: str) -> str:
        if not _SELECTOR.match(value):
            raise ValueError(f"not a DKIM selector: {value!r}")
        return value

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        return _checked_domain(value)


def _checked_domain(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().lower()
    if not _DOMAIN.match(value):
        raise ValueError(f"not a domain name: {value!r}")
    return value


class EmailChannelConfig(ChannelConfig):
    platform: Literal["email"]
    list: str | None = Field(
        default=None, pattern=NAME_PATTERN, description="subscriber list; the channel name if unset"
    )
    list_title: str | None = Field(
        default=None, max_length=100, description="how readers see the list (List-Id, web pages)"
    )
    from_address: str = Field(default="Newsroom <newsroom@example.org>")
    reply_to: str | None = None
    envelope_from: str | None = Field(
        default=None, description="MAIL FROM / Return-Path (bounces); From's address if unset"
    )
    message_id_domain: str | None = Field(
        default=None, description="domain of Message-IDs and the List-Id; From's if unset"
    )
    unsubscribe_mailto: str | None = Field(
        default=None, description="address offered as a mailto: List-Unsubscribe besides https"
    )
    topics: tuple[str, ...] = Field(
        default=(), description="topics (article tags) readers may choose on the subscribe form"
    )
    text_template: str | None = None
    confirm_subject: str = Field(default="Please confirm your subscription", max_length=200)
    confirm_expiry_days: int = Field(default=7, ge=1, le=90)
    smtp: SmtpConfig | None = None
    connections: int = Field(default=4, ge=1, le=64)
    rate_per_second: float = Field(default=50.0, gt=0)
    dkim: DkimConfig | None = None

    @property
    def list_name(self) -> str:
        return self.list or self.name

    @property
    def domain(self) -> str:
        """The domain of Message-IDs and of the List-Id."""
        return self.message_id_domain or addresses.domain_of(self.from_address)

    @property
    def sender(self) -> str:
        """The envelope sender (MAIL FROM)."""
        return addresses.mailbox(self.envelope_from or self.from_address)[1]

    @property
    def list_id(self) -> str:
        """RFC 2919 List-Id value: ``Title <list.domain>``."""
        ident = f"<{self.list_name}.{self.domain}>"
        return f"{self.list_title} {ident}" if self.list_title else ident

    @field_validator("from_address", "reply_to", "envelope_from", "unsubscribe_mailto")
    @classmethod
    def _one_mailbox(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                addresses.mailbox(value)
            except addresses.InvalidAddress as exc:
                raise ValueError(str(exc)) from exc
        return value

    @field_validator("message_id_domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        return _checked_domain(value)

    @field_validator("list_title", "confirm_subject")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and any(ch in value for ch in "\r\n\0"):
            raise ValueError("must be a single line (no line breaks)")
        return value

    @field_validator("topics")
    @classmethod
    def _topics(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        from distributor_channels.email.topics import normalise_topics

        return tuple(normalise_topics(values))

    @model_validator(mode="after")
    def _smtp_unless_dry_run(self) -> EmailChannelConfig:
        if not self.dry_run and self.smtp is None:
            raise ValueError("smtp is required (host, port, security, username, password)")
        return self

    def describe_target(self) -> str:
        via = f" via {self.smtp.describe()}" if self.smtp is not None else ""
        return f"list {self.list_name}{via}"
